"""Links that stay alive: a copy of each saved page (``copies``: the service the web process reads; ``jobs``: the
worker's step; ``fetch`` and ``extract``: the guarded fetch and what is kept of the page), the link checks
(``checks``, ``resemblance``) and the fallbacks readers get when a link dies (``wayback``). The web process
imports only ``copies``; trafilatura and lxml are loaded by the worker, inside ``extract``'s functions."""
