"""De-identification: detection with Presidio + interview recognizers, consistent pseudonyms, the key.

Public entry points: ``DeidentifyConfig`` (config.py), ``Deidentifier`` (engine.py) and
``PseudonymKey`` (key.py). Imported lazily by callers: loading Presidio and spaCy takes seconds.
"""

import os

# tldextract (used by Presidio's e-mail recognizer) would fetch the public suffix list over the
# network on first use; with this empty, its module-level extractor uses the bundled snapshot. Our
# own recognizers use an explicitly offline extractor either way (recognizers/contact.py).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
