"""Recommenders: candidate sources, SASRec, the fused candidate stage, the pipeline that filters,
re-ranks and grounds the list, and the constraints it honours."""
