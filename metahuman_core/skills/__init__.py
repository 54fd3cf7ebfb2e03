"""Skills and the one gate they all go through (DESIGN §7).

    from metahuman_core.skills import execute, get_skill, list_skills, Outcome
    outcome = execute(profile, "fs_read", {"path": "README.md"}, actor="operator")
"""

from .gate import Outcome, execute
from .registry import Skill, get_skill, list_skills

__all__ = ["Outcome", "Skill", "execute", "get_skill", "list_skills"]
