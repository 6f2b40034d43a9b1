"""Who is who across frames: the tracker, lines and zones, and the events they make."""
