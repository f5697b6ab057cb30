"""Quality control: statistical process control, defect vision on NEU-DET, and inspection decisions.

* :mod:`~forewarn.quality.charts`, :mod:`~forewarn.quality.rules`, :mod:`~forewarn.quality.capability`:
  Shewhart, EWMA and CUSUM charts, Western Electric and Nelson rules, Cp/Cpk/Pp/Ppk;
* :mod:`~forewarn.quality.vision`: a small torch CNN trained from scratch (images decoded with pillow), its
  class activation maps, and a patch-feature anomaly detector for lines with good images only;
* :mod:`~forewarn.quality.texture`: the texture-statistics detector for lines with good images only (grey-level
  statistics and filter-bank energies, nearest good images; ahead of the patch features on unseen defects);
* :mod:`~forewarn.quality.decisions`: reject / review / pass from calibrated probabilities and costs.

Torch and pillow are imported only by the vision modules.
"""
