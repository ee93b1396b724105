"""Files: the one video reader (reader.py, its frame timing in timing.py), the video/frames writer, atomic writes,
standard input and output as files (streams.py), progress on frames coded (progress.py)."""
