"""Links that stay alive: page copies, link checks and the fallbacks readers get when a link dies."""
