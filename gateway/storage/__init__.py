"""Result storage: every returned image copied to a store the gateway controls, so its URL
outlives the provider's (DashScope's expire after 24 h).

``keeper`` does the copying for the image service; ``local`` and ``s3`` are the stores;
``signing`` and ``naming`` are pure. Kept import-light: the config imports ``naming``.
"""
