"""Deep (torch) models: a 1-D CNN for vibration faults and an autoencoder anomaly detector.

Their modules import torch only when a model is fitted, restored or used, so this package imports
without torch.
"""

from forewarn.models.deep.autoencoder import AutoencoderDetector
from forewarn.models.deep.cnn_fault import CNNFault
from forewarn.models.deep.rul_cnn import CNNRUL

__all__ = ["AutoencoderDetector", "CNNFault", "CNNRUL"]
