"""Federated learning across plants with Flower: one model from many factories; no raw reading leaves a site.

The only package that imports ``flwr``. Pieces:

* :mod:`~forewarn.federated.network`: the network every site trains (a ReLU perceptron on window statistics)
  as named arrays, which becomes the registry's ``mlp-failure`` or ``mlp-rul``;
* :mod:`~forewarn.federated.window`: the window model (``cnn-rul``'s 1-D CNN over the last cycles, RUL) as named
  arrays, with a shared or a site-own (FedBN-like) standardiser;
* :mod:`~forewarn.federated.apps`: the Flower ``ClientApp`` (a site) and ``ServerApp`` (moments query, then
  FedAvg, FedProx, FedAdam or FedYogi weighted by samples);
* :mod:`~forewarn.federated.simulate`: simulation on Flower's engine (Ray) or an in-process Grid
  (:mod:`~forewarn.federated.inprocess`), same apps;
* :mod:`~forewarn.federated.deploy`: deployment mode (a SuperLink and one SuperNode per site, TLS, SuperNode
  authentication, ``flwr run``), the same apps;
* :mod:`~forewarn.federated.trees` and :mod:`~forewarn.federated.boosting`: federated LightGBM by bagging the
  sites' boosters;
* :mod:`~forewarn.federated.histboost` (server in :mod:`~forewarn.federated.boosting`): gradient boosting by
  histogram aggregation, the trees the pooled rows would grow;
* :mod:`~forewarn.federated.secure`: FedAvg on Flower's SecAgg+ (the server learns only the sum of the updates);
* :mod:`~forewarn.federated.federate`: ``forewarn federate`` (sites from stores through the train pipeline, a
  registry bundle with a model card);
* :mod:`~forewarn.federated.benchmark`: ``forewarn bench federated`` (local, federated, personalised, pooled).

Submodules are imported on use: ``import forewarn.federated`` loads neither Flower nor torch.
"""
