"""Files: the one video reader (reader.py, its frame timing in timing.py), the video/frames writer, atomic writes."""
