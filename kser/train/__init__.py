"""Training: experiments and cross-validation, distribution, mixed precision.

Nothing is imported here, so `import kser.train` stays light and does not
load Keras before the backend is chosen; import the submodules themselves.
"""
