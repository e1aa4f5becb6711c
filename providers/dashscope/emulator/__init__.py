"""A faithful local fake of DashScope's image API, following its public API references.

``create_app(EmulatorConfig(...))`` gives a Litestar app serving, for one region (``cn`` or ``intl``),
the native routes ``/api/v1/services/aigc/{text2image/image-synthesis, image2image/image-synthesis,
image-generation/generation, multimodal-generation/generation}``, the task API
``/api/v1/tasks[/{id}[/cancel]]``, the compatible-mode routes ``/compatible-mode/v1/{models,
chat/completions, images/generations}``, signed result files under ``/results/...`` and test controls
under ``/__emulator__/``.

Fault markers
-------------
Put ``[emu:NAME]`` or ``[emu:NAME=VALUE]`` anywhere in the prompt (for messages-style requests, in the
text item).
"sync" is the multimodal-generation call; "task" is the task created by an async submit (the submit succeeds).

========================  ===========================================================================
``data-inspection``       sync 400 DataInspectionFailed "Input data may contain inappropriate content.";
                          task FAILED with that code and message
``data-inspection-output`` same with "Output data may contain inappropriate content." (after generation)
``ip-infringement``       sync 400 IPInfringementSuspect; task FAILED
``internal-error``        sync 500 InternalError; task FAILED InternalError
``algo-error``            sync 500 InternalError.Algo; task FAILED InternalError.Algo
``partial``               only the first image succeeds: results[] items 2..n carry InternalError.Timeout,
                          task_metrics.FAILED > 0, task SUCCEEDED; choices/sync: fewer images
``all-failed``            task SUCCEEDED with every results[] item failed; sync 500 InternalError
``http-500``              submit/sync answers 500 InternalError
``http-503``              submit/sync answers 503 ModelUnavailable
                          "Model is unavailable, please try again later."
``throttle``              429 Throttling "Requests throttling triggered."
``throttle-rate``         429 Throttling.RateQuota
``throttle-burst``        429 Throttling.BurstRate
``quota``                 429 Throttling.AllocationQuota
``billing``               429 PrepaidBillOverdue
``arrearage``             400 Arrearage
``unpurchased``           403 AccessDenied.Unpurchased
``free-tier-only``        403 AllocationQuota.FreeTierOnly
``business-200``          HTTP 200 ``{"code":"InternalError","message":…,"request_id":…}`` without ``output``
``flaky=N``               the first N calls with this exact prompt answer 500 InternalError
``flaky-throttle=N``      the first N calls with this exact prompt answer 429 Throttling.RateQuota
``flaky-task=N``          the first N tasks with this exact prompt end FAILED InternalError
``latency=SECONDS``       overrides the configured latency (sync duration, task RUNNING time)
``stuck``                 task stays RUNNING forever; sync call waits until the client goes away
``unknown``               task reports UNKNOWN once its PENDING time is over
``canceled``              task reports CANCELED once its PENDING time is over
``expired-url``           result URLs are already expired (403 on GET)
``broken-url``            result URLs answer 404 NoSuchKey
``html-url``              result URLs answer 200 text/html
``wide-2k``               wan2.7 ``2K`` text-to-image returns 2985*1405 (contract C8)
========================  ===========================================================================

An unknown marker name or a bad value is a 400 InvalidParameter, so typos do not pass silently. Markers are
checked in the contract's validation order: entitlement ones (``unpurchased``, ``arrearage``,
``free-tier-only``, ``billing``, ``quota``) at step 6, throttling ones at step 9, the rest after validation.

Result files
------------
``{scheme}://{host}/results/{task or request id}/{index}_{W}x{H}_{RRGGBB}[.{caption}].png?Expires=<unix>&
OSSAccessKeyId=<id>&Signature=<base64 HMAC-SHA1>`` on the host and port the client called. ``RRGGBB`` is a hash
of the model, the whole prompt, the seed and the index; ``caption`` is the url-safe base64 of the msgpack
``[model, first 60 characters of the prompt as ASCII, seed]``, so the URL stays short and the signature covers
it. A GET renders a picture of exactly W by H: a pixel-art pattern seeded by ``RRGGBB`` (so requests and the n
images of one request differ, and the same request always gives the same bytes) over a dark caption band with
the model, ``W x H  #index  seed N`` and the start of the prompt in white, in Pillow's built-in bitmap font
scaled with the image (about 33 px tall lines at 1024; lines are cut or dropped, prompt first, on small images).
A path without the caption part is still served, with the size line only. A bad signature, a missing query or
a past ``Expires`` is a 403 OSS-style XML error.

Choices where the contract is silent
------------------------------------
The multimodal endpoint refuses ``X-DashScope-Async: enable`` for every model (its async twin is
image-generation). Interleave mode (wan2.6-image) makes exactly ``max_images`` images (default 5); image-set
mode (wan2.7) makes exactly ``n``. Images given by URL are not fetched and count as square when an output
size follows the input ratio. All keys belong to one account: any accepted key may query any task.

Control routes (not DashScope)
------------------------------
``GET /__emulator__/requests`` the received requests ``{method, path, query, headers, json}``
(Authorization removed), ``DELETE /__emulator__/requests`` clears them, ``POST /__emulator__/clock``
``{"advance_seconds": N}`` moves the clock forward (URL expiry, 24 h task retention),
``GET /__emulator__/stats`` the counters.
"""

from .app import create_app
from .config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
