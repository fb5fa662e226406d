"""Data files shipped with Nerfie: the bundled sample clip (made by ``nerfie synth``), icons."""
