"""Speaker tagging: who said each word, and which speaker is the interviewer.

Back-ends share one small interface (``base.SpeakerBackend``) and are looked up by name in
``registry.BACKENDS``; the stage entry point is ``pipeline.stages.speakers.run``. This package
module stays empty so that importing the configuration does not load audio libraries.
"""
