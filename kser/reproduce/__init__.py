"""Reproduction recipes: the engine that runs a folder of `recipes/`.

`kser.reproduce.recipe` reads a recipe's config (a shared base plus the
recipe's overrides), trains its variants over its folds and writes
RESULTS.md through `kser.report.recipe_results`, beside the paper's numbers
in `kser.report.paper`. Run one with `kser recipe recipes/NAME`.
"""
