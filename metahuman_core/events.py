"""The audit event catalogue. Every `event` written by the core is one of these constants.

User scripts may record their own events with `mh audit log EVENT`; those names must match
EVENT_NAME_RE and should not reuse a catalogue name for a different meaning.
"""

import re

EVENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_.:-]{0,79}$")

# system
SYSTEM_INIT = "system_init"
CONFIG_CHANGED = "config_changed"
PERSONA_CHANGED = "persona_changed"
TRUST_CHANGED = "trust_level_changed"
YOLO_CHANGED = "yolo_changed"
INDEX_REBUILT = "index_rebuilt"

# data (the seed's auditDataChange types)
DATA_CREATE = "data_create"
DATA_UPDATE = "data_update"
DATA_DELETE = "data_delete"

# inbox
INBOX_FILE_INGESTED = "inbox_file_ingested"
INBOX_FILE_FAILED = "inbox_file_failed"
INBOX_FILE_QUEUED = "inbox_file_queued"

# skills / decisions
SKILL_DECISION = "skill_decision"
SKILL_EXECUTED = "skill_executed"
SKILL_FAILED = "skill_failed"
SKILL_DENIED = "skill_denied"
APPROVAL_QUEUED = "approval_queued"
APPROVAL_APPROVED = "approval_approved"
APPROVAL_REJECTED = "approval_rejected"
APPROVAL_EXPIRED = "approval_expired"
APPROVAL_EXECUTED = "approval_executed"
APPROVAL_FAILED = "approval_failed"
DECISION = "decision"

# security
SECURITY = "security_event"
PERMISSION_DENIED = "permission_denied"
SANDBOX_VIOLATION = "sandbox_violation"
AUTH_FAILED = "auth_failed"

# llm / chat / operator
CHAT_EXCHANGE = "chat_exchange"
LLM_UNAVAILABLE = "llm_unavailable"
MODEL_CHANGED = "model_changed"
OPERATOR_STARTED = "operator_started"
OPERATOR_STEP = "operator_step"
OPERATOR_FINISHED = "operator_finished"
OPERATOR_PAUSED = "operator_paused"

# agents
AGENT_STARTED = "agent_started"
AGENT_STOPPED = "agent_stopped"
AGENT_CYCLE = "agent_cycle"
MEMORY_ORGANIZED = "memory_organized"
MEMORY_ORGANIZE_FAILED = "memory_organize_failed"
REFLECTION_CREATED = "reflection_created"
DREAM_CREATED = "dream_created"
SLEEP_STARTED = "sleep_started"
SLEEP_FINISHED = "sleep_finished"
OVERNIGHT_LEARNINGS = "overnight_learnings_written"

# LoRA (the seed's names: `grep lora_` and `grep lora_dataset_auto` must find them)
LORA_DATASET_BUILT = "lora_dataset_built"
LORA_DATASET_AUTO_APPROVED = "lora_dataset_auto_approved"
LORA_DATASET_AUTO_REJECTED = "lora_dataset_auto_rejected"
LORA_DATASET_APPROVED = "lora_dataset_approved"
LORA_DATASET_REJECTED = "lora_dataset_rejected"
LORA_TRAINING_STARTED = "lora_training_started"
LORA_TRAINING_COMPLETED = "lora_training_completed"
LORA_TRAINING_FAILED = "lora_training_failed"
LORA_EVALUATED = "lora_adapter_evaluated"
LORA_ADAPTER_ACTIVATED = "lora_adapter_activated"
LORA_ADAPTER_DEACTIVATED = "lora_adapter_deactivated"
LORA_PIPELINE_SKIPPED = "lora_pipeline_skipped"
LORA_ACTIVATION_FORCED = "lora_adapter_activation_forced"

# remote training
POD_CREATED = "runpod_pod_created"
POD_TERMINATED = "runpod_pod_terminated"
POD_TERMINATE_FAILED = "runpod_pod_terminate_failed"
POD_HOST_KEY_PINNED = "runpod_host_key_pinned"
POD_REAPED = "runpod_pod_reaped"

# api
API_REQUEST = "api_request"

# audit log itself (metahuman_core/audit_repair.py, audit_checkpoint.py)
AUDIT_CHAIN_REPAIRED = "audit_chain_repaired"
AUDIT_CHECKPOINT = "audit_checkpoint"

# mcp (`mh mcp`: one session per client connection; tool calls are SKILL_* lines with actor mcp:…)
MCP_SESSION_STARTED = "mcp_session_started"
MCP_SESSION_ENDED = "mcp_session_ended"
MCP_RESOURCE_READ = "mcp_resource_read"

# user-recorded
USER_EVENT = "user_event"
