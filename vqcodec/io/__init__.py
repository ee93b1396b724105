"""Files: the one video reader, the video/frames writer, atomic writes."""
