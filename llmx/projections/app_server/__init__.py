"""The app-server's v2 wire (notifications, approval requests, thread items) as folds
over rollout lines."""

from llmx.projections.app_server.messages import (
    Notification,
    RequestResolved,
    ServerRequest,
    WireMessage,
)
from llmx.projections.app_server.notifications import AppServerFold, fold_rollout

__all__ = [
    "AppServerFold",
    "Notification",
    "RequestResolved",
    "ServerRequest",
    "WireMessage",
    "fold_rollout",
]
