"""Streaming: MQTT and OPC UA readings scored as they arrive, written to the store, and never lost.

* :mod:`~forewarn.stream.config` and :mod:`~forewarn.stream.config_file`: the TOML mapping config (topics, node ids, JSON fields -> asset, channel, unit);
* :mod:`~forewarn.stream.messages`: payload decoding (Sparkplug-B-style JSON, one value per topic, flat JSON)
  and dead letters;
* :mod:`~forewarn.stream.pipeline`: the micro-batch pipeline (store, online features, scores, alerts, one commit);
* :mod:`~forewarn.stream.consumer`: the consumer loop that acknowledges messages only after the commit;
* :mod:`~forewarn.stream.mqtt`, :mod:`~forewarn.stream.opcua`: the connectors; :mod:`~forewarn.stream.replay`
  publishes a stored or simulated fleet; :mod:`~forewarn.stream.broker` starts a local mosquitto.

>>> from forewarn.stream import OnlinePipeline, StreamConsumer, load_config
"""

from forewarn.stream.config import StreamConfig
from forewarn.stream.config_file import load_config, parse_config
from forewarn.stream.consumer import StreamConsumer
from forewarn.stream.pipeline import BatchResult, OnlinePipeline

__all__ = ["BatchResult", "OnlinePipeline", "StreamConfig", "StreamConsumer", "load_config", "parse_config"]
