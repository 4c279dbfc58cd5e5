"""Links that stay alive: a copy of each saved page (``copies``: the service the web process reads; ``jobs``: the
worker's step; ``fetch`` and ``extract``: the guarded fetch and what is kept of the page). The web process imports
only ``copies``; trafilatura and lxml are loaded by the worker, inside ``extract``'s functions."""
