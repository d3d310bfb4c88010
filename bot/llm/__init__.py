"""The language-model runtime: loading (nf4, fp32), generation backends, the prefix cache."""
