"""A Flower ``Grid`` that delivers each message to a site's ``ClientApp`` in this process, one site after another.

The same ``ServerApp`` and ``ClientApp`` objects as the simulation engine and a deployment run, with the same
strategies: only the transport differs (no Ray actors, no SuperLink). A run is deterministic (sites answer in node
order) and starts in well under a second, which the tests and the benchmark's repetitions use; every reply is
checked to come from the node the message went to.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any
from uuid import uuid4

from flwr.app import Context, Message, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.run import Run

from forewarn.exceptions import ForewarnError

#: the server's node id in messages (Flower's SuperLink uses 1 too)
SERVER_NODE = 1


class LocalGrid(Grid):
    """``sites`` nodes (ids 101, 102, ...) whose node config holds ``partition-id`` and ``num-partitions``."""

    def __init__(self, client_app: Any, sites: int, run_id: int = 1):
        self.client_app = client_app
        self._run_obj = Run.create_empty(run_id)
        self.contexts = {
            101 + i: Context(
                run_id=run_id,
                node_id=101 + i,
                node_config={"partition-id": i, "num-partitions": sites},
                state=RecordDict(),
                run_config={},
            )
            for i in range(sites)
        }
        #: every message the server sent and every reply, in order: (direction, node, message type, record keys)
        self.log: list[tuple[str, int, str, tuple[str, ...]]] = []

    def set_run(self, run: Run) -> None:
        self._run_obj = run

    @property
    def run(self) -> Run:
        return self._run_obj

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str, ttl: float | None = None
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        raise ForewarnError("LocalGrid answers through send_and_receive only")

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        raise ForewarnError("LocalGrid answers through send_and_receive only")

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        replies = []
        for sent in sorted(messages, key=lambda m: m.metadata.dst_node_id):
            # each site gets its own copy, as over a wire: Flower's SecAgg+ sends one content object to every
            # node, and its client mod pops the stage from it
            message = copy.deepcopy(sent)
            node = int(message.metadata.dst_node_id)
            if node not in self.contexts:
                raise ForewarnError(f"message to unknown node {node}")
            message.metadata.__dict__["_run_id"] = self._run_obj.run_id
            message.metadata.__dict__["_src_node_id"] = SERVER_NODE
            message.metadata.__dict__["_message_id"] = str(uuid4())
            self.log.append(("to-site", node, message.metadata.message_type, tuple(message.content.keys())))
            reply = self.client_app(message, self.contexts[node])
            if reply.metadata.reply_to_message_id != message.metadata.message_id:
                raise ForewarnError(f"node {node} answered another message")
            reply.metadata.__dict__["_src_node_id"] = node
            self.log.append(("to-server", node, reply.metadata.message_type, tuple(reply.content.keys())))
            replies.append(reply)
        return replies


def run_local(server_app: Any, client_app: Any, sites: int) -> LocalGrid:
    """Run ``server_app`` against ``sites`` in-process sites of ``client_app``; returns the grid (with its log)."""
    grid = LocalGrid(client_app, sites)
    context = Context(run_id=1, node_id=SERVER_NODE, node_config={}, state=RecordDict(), run_config={})
    server_app(grid, context)
    return grid
