"""What agents do with conversations: list, read, claim, reply, note, reassign, resolve,
merge.

Every read and write checks the agent's teams: another team's conversation does not
exist as far as the agent can tell (NotFound, a 404 at the API).
"""

from __future__ import annotations

from inbox.store.desk_answers import DeskAnswers
from inbox.store.desk_conversation import DeskConversation
from inbox.store.desk_inbox import DeskInbox
from inbox.store.desk_merge import DeskMerge
from inbox.store.desk_queue import DeskQueue
from inbox.store.desk_routing import DeskRouting
from inbox.store.desk_search import DeskSearch


class Desk(DeskQueue, DeskInbox, DeskSearch, DeskConversation, DeskAnswers, DeskRouting, DeskMerge):
    """The agents' operations on conversations, one module for each kind of work."""
