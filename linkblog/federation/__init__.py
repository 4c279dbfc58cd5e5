"""ActivityPub federation (the actor's keys live here from day one)."""
