"""featlint's language server (`featlint server`, extra `featlint[lsp]`).

Nothing here is imported by the linter itself: `server` needs pygls, which only the extra installs.
"""

# How long `featlint server` waits after the last keystroke before linting: long enough that typing a word
# lints once, short enough to feel immediate. `featlint server --debounce-ms` changes it.
DEFAULT_DEBOUNCE_MS = 150
