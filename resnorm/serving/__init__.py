"""Serving many learners: worker processes, the training-slot queue, session jobs, the runs folder and the GPU share."""
