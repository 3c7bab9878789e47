"""Reading input: finding the files to lint, decoding them, and parsing them (large files in pieces).

Nothing here knows about rules or models; the engine (featlint.running) consumes what these modules produce."""
