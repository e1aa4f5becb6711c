"""DashScope's regions: their public hosts and their workspace hosts.

https://www.alibabacloud.com/help/en/model-studio/regions-and-endpoints: a workspace
host is ``https://{WorkspaceId}.{region id}.maas.aliyuncs.com``; Frankfurt and Tokyo
have no other. Hong Kong's public host is known from third parties only.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["REGIONS", "Region", "host_for"]

Region = Literal["cn", "intl", "us", "eu", "jp", "hk"]

#: region -> (Alibaba Cloud region id, public host or None)
REGIONS: dict[str, tuple[str, str | None]] = {
    "cn": ("cn-beijing", "https://dashscope.aliyuncs.com"),
    "intl": ("ap-southeast-1", "https://dashscope-intl.aliyuncs.com"),
    "us": ("us-east-1", "https://dashscope-us.aliyuncs.com"),
    "eu": ("eu-central-1", None),
    "jp": ("ap-northeast-1", None),
    "hk": ("cn-hongkong", "https://cn-hongkong.dashscope.aliyuncs.com"),
}
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def host_for(region: str, workspace_id: str | None) -> str:
    """The base URL for a region, through a workspace when one is given. Raises ValueError."""
    region_id, public = REGIONS[region]
    if workspace_id:
        if not _WORKSPACE.fullmatch(workspace_id):
            raise ValueError(f"workspace_id {workspace_id!r} is not a workspace id (letters, digits, '-')")
        return f"https://{workspace_id}.{region_id}.maas.aliyuncs.com"
    if public is None:
        raise ValueError(f"region {region!r} ({region_id}) is reached through a workspace: set workspace_id")
    return public
