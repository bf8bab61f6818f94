"""Task queue names: the one place they are spelled."""

from typing import Final

APPOINTMENTS: Final = "keeptime-appointments"
NOTIFICATIONS: Final = "keeptime-notifications"
REVIEWS: Final = "keeptime-reviews"
CALLS: Final = "keeptime-calls"
MAINTENANCE: Final = "keeptime-maintenance"

ALL_TASK_QUEUES: Final = (APPOINTMENTS, NOTIFICATIONS, REVIEWS, CALLS, MAINTENANCE)
