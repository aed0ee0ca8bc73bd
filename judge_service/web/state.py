"""`app.state`, typed: what one app's requests share, built once in its lifespan (app.py).

Starlette's `State` takes any attribute and types none. These subclasses name the ones the
app sets, each beside the types it names, so no layer reaches above itself: `AppState` here
(what web/ and both faces need), `ApiState` in api/ and `DashboardState` in dashboard/ add
their own, and app.py's `ServiceState` is both. Routes read them through `Annotated`
dependencies (web/deps.py, api/deps.py), so readers and mypy follow each one to where it
is built.
"""

from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.datastructures import State

from judge_service.config import Settings
from judge_service.db.models import Project
from judge_service.jobs.dispatch import Dispatcher

if TYPE_CHECKING:  # web/auth.py reads the state, so it is imported for its type only
    from judge_service.web.auth import RateLimiter


class AppState(State):
    """The shared objects every part of the app reads."""

    settings: Settings
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    rate_limiter: "RateLimiter"
    # An open server's one project, read on its first request without a key (web/auth.py).
    default_project: Project | None


StateT = TypeVar("StateT", bound=AppState)


def state_of(app: Starlette, kind: type[StateT]) -> StateT:
    """The app's state as `kind`: what `judge_service.app.create_app` gives every app."""
    state = app.state
    if not isinstance(state, kind):
        raise TypeError(f"app.state is a {type(state).__name__}, not a {kind.__name__}")
    return state
