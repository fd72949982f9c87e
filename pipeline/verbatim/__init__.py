"""Verbatim transcripts a researcher can quote: prompts per language, a guard against invented
words, explicit markers for speech without words and for pauses (see :mod:`.guard`, :mod:`.markers`)."""
