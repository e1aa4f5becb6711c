"""Callbacks for async jobs, as Standard Webhooks (https://www.standardwebhooks.com/).

``targets`` decides which ``webhook_url`` a job may name; ``signing`` signs a delivery;
``delivery`` queues deliveries in shared state and sends them, with retries, from any replica.
"""

from __future__ import annotations

from gateway.webhooks.delivery import Webhooks

__all__ = ["Webhooks"]
