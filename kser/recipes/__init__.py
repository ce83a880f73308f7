"""Paper-reproduction recipes: the paper's numbers as data and shared code.

`kser.recipes.paper` holds every number the paper publishes (Table I per
fold, Tables II-IV per epoch, the per-class figures) and EmoBox's RAVDESS
reference points, stored once. `kser.recipes.common` runs a recipe in
`recipes/` (smoke or full mode) and writes its RESULTS.md.
"""
