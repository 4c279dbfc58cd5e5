"""Independent ActivityPub peers that linkblog's federation tests start and drive."""
