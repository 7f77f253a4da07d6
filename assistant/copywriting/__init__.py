"""Product copy in batch: the writer, its claim checker, the resumable journal, styles and the evaluation."""
