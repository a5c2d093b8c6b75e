"""seqlab: sequence modelling with recurrent networks, attention and Transformers, on PyTorch."""
__version__ = "0.1.0"
