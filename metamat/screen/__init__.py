"""Screening: candidate generation (:mod:`generate`), charge / element filters (:mod:`filters`), a
formation-energy model (:mod:`formation`) and convex-hull stability (:mod:`stability`), and the chunked
Dask pipeline that ties them together (:mod:`pipeline`). Library only: nothing here prints."""
