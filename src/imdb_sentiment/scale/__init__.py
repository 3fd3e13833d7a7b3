"""Scale-out: the same training and scoring on more hardware.

- ``distributed.py``  under ``accelerate launch``: which process writes, ordered distributed scoring;
- ``ray.py``          ``predict --engine ray``: Ray Data streams files through scoring actors;
- ``ray_inputs.py``   which files and rows a Ray job reads.
"""
