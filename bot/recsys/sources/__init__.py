"""The candidate sources the fused stage (:mod:`bot.recsys.stage`) combines: item transitions,
co-occurrence and popularity (``candidates``), the SASRec sequential model (``sasrec``), and
the support test that co-purchase evidence must pass before a reason cites it
(``copurchase``)."""
