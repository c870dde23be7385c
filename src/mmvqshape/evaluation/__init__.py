"""Research code that scores and calibrates, below the pipelines: the sentence reader, zero-shot
calibration and decisions, grounding of placed sentences. Pipelines call it and write files;
nothing here reads or writes a file."""
