"""The SQL of each batch job: one statement per batch, keyset-paginated on the primary key.

Each statement picks at most ``:limit`` rows after ``:after`` that match the job's condition, changes them,
and returns ``scanned``, ``changed`` and ``last`` (the highest id it looked at). One short transaction per
batch; a second run finds nothing left to change (archived rows have ``archived_at``, recovered customers a
fresh ``reputation_recovered_at``, deleted rows are gone).
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from domain.statuses import CallStatus

_RESULT = "SELECT (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM changed) AS changed, " + (
    "(SELECT max(id) FROM batch) AS last"
)

_FINISHED_CALLS = ", ".join(f"'{status.value}'" for status in CallStatus.finished())

APPOINTMENT_ARCHIVE = text(
    """
    WITH batch AS (
        SELECT id FROM appointments
         WHERE id > :after AND status IN ('completed', 'cancelled') AND archived_at IS NULL
           AND ends_at < :cutoff
         ORDER BY id LIMIT :limit
    ), changed AS (
        UPDATE appointments a SET archived_at = :now FROM batch b WHERE a.id = b.id RETURNING a.id
    )
    """
    + _RESULT
)

CHAT_ROOM_ARCHIVE = text(
    """
    WITH batch AS (
        SELECT id FROM chat_rooms
         WHERE id > :after AND archived_at IS NULL AND last_activity_at < :cutoff
         ORDER BY id LIMIT :limit
    ), changed AS (
        UPDATE chat_rooms r SET archived_at = :now FROM batch b WHERE r.id = b.id RETURNING r.id
    )
    """
    + _RESULT
)

CALL_RECORD_CLEANUP = text(
    """
    WITH batch AS (
        SELECT id FROM calls
         WHERE id > :after AND created_at < :cutoff
           AND status IN ("""
    + _FINISHED_CALLS
    + """)
         ORDER BY id LIMIT :limit
    ), changed AS (
        DELETE FROM calls c USING batch b WHERE c.id = b.id RETURNING c.id
    )
    """
    + _RESULT
)

# The event feed's retention (db.events): events older than the cutoff are deleted, oldest first.
EVENT_RETENTION = text(
    """
    WITH batch AS (
        SELECT id FROM events WHERE id > :after AND created_at < :cutoff ORDER BY id LIMIT :limit
    ), changed AS (
        DELETE FROM events e USING batch b WHERE e.id = b.id RETURNING e.id
    )
    """
    + _RESULT
)

# Customers without a no-show since the cutoff regain points, at most once a week (the marker), never
# above the cap.
REPUTATION_RECOVERY = text(
    """
    WITH batch AS (
        SELECT c.id FROM customers c
         WHERE c.id > :after AND c.reputation_score < :cap
           AND (c.reputation_recovered_at IS NULL OR c.reputation_recovered_at < :marker)
           AND NOT EXISTS (
                SELECT 1 FROM appointments a
                 WHERE a.customer_id = c.id AND a.status = 'no_show' AND a.starts_at >= :cutoff)
         ORDER BY c.id LIMIT :limit
    ), changed AS (
        UPDATE customers c
           SET reputation_score = LEAST(:cap, c.reputation_score + :points), reputation_recovered_at = :now
          FROM batch b WHERE c.id = b.id RETURNING c.id
    )
    """
    + _RESULT
)

# Completion rate: completed / (completed + no-shows); cancelled appointments never took place.
BUSINESS_STATS = text(
    """
    WITH batch AS (
        SELECT id, rating_average, rating_count FROM businesses
         WHERE id > :after AND (CAST(:only AS BIGINT) IS NULL OR id = :only)
         ORDER BY id LIMIT :limit
    ), figures AS (
        SELECT b.id AS business_id,
               count(a.id) AS total,
               count(a.id) FILTER (WHERE a.status = 'completed') AS completed,
               count(a.id) FILTER (WHERE a.status = 'no_show') AS no_shows,
               count(a.id) FILTER (WHERE a.status = 'cancelled') AS cancelled,
               b.rating_average, b.rating_count
          FROM batch b LEFT JOIN appointments a ON a.business_id = b.id
         GROUP BY b.id, b.rating_average, b.rating_count
    ), changed AS (
        INSERT INTO business_stats AS s (business_id, total_appointments, completed, no_shows, cancelled,
                                         completion_rate, average_rating, review_count, computed_at)
        SELECT business_id, total, completed, no_shows, cancelled,
               CASE WHEN completed + no_shows > 0
                    THEN round(completed::numeric / (completed + no_shows), 4)::float END,
               rating_average, rating_count, :now
          FROM figures
        ON CONFLICT (business_id) DO UPDATE SET
               total_appointments = EXCLUDED.total_appointments, completed = EXCLUDED.completed,
               no_shows = EXCLUDED.no_shows, cancelled = EXCLUDED.cancelled,
               completion_rate = EXCLUDED.completion_rate, average_rating = EXCLUDED.average_rating,
               review_count = EXCLUDED.review_count, computed_at = EXCLUDED.computed_at
         WHERE (s.total_appointments, s.completed, s.no_shows, s.cancelled, s.completion_rate,
                s.average_rating, s.review_count)
               IS DISTINCT FROM
               (EXCLUDED.total_appointments, EXCLUDED.completed, EXCLUDED.no_shows, EXCLUDED.cancelled,
                EXCLUDED.completion_rate, EXCLUDED.average_rating, EXCLUDED.review_count)
        RETURNING s.business_id AS id
    )
    """
    + _RESULT
)

# The notification-log cleanup pages on (updated_at, id): the (status, updated_at) index serves both the
# filter and the order; a batch locks only its own rows.
NOTIFICATION_LOG_DELETE = text(
    """
    WITH doomed AS (
        SELECT id, updated_at FROM notification_log
         WHERE status = :status AND updated_at < :cutoff
           AND (updated_at, id) > (:after_at, :after_id)
         ORDER BY updated_at, id
         LIMIT :limit
    ), gone AS (
        DELETE FROM notification_log n USING doomed d WHERE n.id = d.id RETURNING d.updated_at, d.id
    )
    SELECT count(*) AS deleted, max(updated_at) AS last_at,
           (SELECT id FROM gone ORDER BY updated_at DESC, id DESC LIMIT 1) AS last_id
      FROM gone
    """
)

IN_APP_NOTIFICATION_ARCHIVE = text(
    """
    WITH batch AS (
        SELECT id FROM in_app_notifications
         WHERE id > :after AND archived_at IS NULL AND read_at < :cutoff
         ORDER BY id LIMIT :limit
    ), changed AS (
        UPDATE in_app_notifications n SET archived_at = :now FROM batch b WHERE n.id = b.id RETURNING n.id
    )
    """
    + _RESULT
)

PROJECT_ARCHIVE = text(
    """
    WITH batch AS (
        SELECT id FROM projects
         WHERE id > :after AND status = 'completed' AND completed_at < :cutoff
         ORDER BY id LIMIT :limit
    ), changed AS (
        UPDATE projects p SET status = 'archived' FROM batch b WHERE p.id = b.id RETURNING p.id
    )
    """
    + _RESULT
)

# The daily safety net under the alert made when a movement crosses below the threshold (db/inventory.py):
# an item short but never told (a threshold raised, a row changed outside the API) is told now, once; the
# same lock and the same ``shortage_alerted_at`` as a movement's check, so the two never both tell. A company
# with ``inventory_shortage_reminders: daily`` is told again each morning while the shortage lasts; an item
# back at or above its threshold is re-armed (``changed`` counts both).
INVENTORY_SHORTAGE_CHECK = text(
    """
    WITH batch AS (
        SELECT id FROM inventory_items WHERE id > :after ORDER BY id LIMIT :limit
    ), short AS (
        SELECT i.id, i.business_id, i.name, i.unit, i.quantity, i.threshold
          FROM inventory_items i
          JOIN businesses b ON b.id = i.business_id
         WHERE i.id IN (SELECT id FROM batch)
           AND i.quantity < i.threshold
           AND (i.shortage_alerted_at IS NULL
                -- a company that asked for daily reminders hears again while the shortage lasts (told
                -- 20 h ago or more: the 08:00 run of each day, whatever its jitter or a catch-up)
                OR (b.automation ->> 'inventory_shortage_reminders' = 'daily'
                    AND i.shortage_alerted_at <= CAST(:now AS timestamptz) - interval '20 hours'))
         FOR UPDATE OF i
    ), told AS (
        INSERT INTO in_app_notifications
               (business_id, user_id, message_key, event, entity_type, entity_id, title, link)
        SELECT s.business_id, u.id,
               'inventory_item:' || s.id || '\\:inventory.shortage\\:'
                 || extract(epoch FROM CAST(:now AS timestamptz)) || '\\:user\\:' || u.id,
               'inventory.shortage', 'inventory_item', s.id,
               left(s.name || ': ' || s.quantity || ' ' || s.unit
                    || ' left (threshold ' || s.threshold || ')', 300),
               '/v1/inventory/' || s.id
          FROM short s
          JOIN staff_users u ON u.business_id = s.business_id AND u.roles && ARRAY['admin', 'pm']::varchar[]
        ON CONFLICT (message_key) DO NOTHING
        RETURNING id
    ), marked AS (
        UPDATE inventory_items i SET shortage_alerted_at = :now FROM short s WHERE i.id = s.id RETURNING i.id
    ), rearmed AS (
        -- restocked outside the API (no movement to re-arm it): the next crossing is told again
        UPDATE inventory_items i SET shortage_alerted_at = NULL
         WHERE i.id IN (SELECT id FROM batch) AND i.quantity >= i.threshold
           AND i.shortage_alerted_at IS NOT NULL
        RETURNING i.id
    ), changed AS (
        SELECT id FROM marked UNION ALL SELECT id FROM rearmed
    )
    """
    + _RESULT
)

# The daily safety net under the alert made when a touch-up changes (db/touch_ups.py): a project with 3 or
# more open high/urgent touch-ups never told is told now, once, under the same lock and marker.
TOUCH_UP_CHECK = text(
    """
    WITH batch AS (
        SELECT id FROM projects WHERE id > :after ORDER BY id LIMIT :limit
    ), serious AS (
        SELECT p.id, p.business_id, p.name, count(t.id) AS open_serious
          FROM projects p
          JOIN touch_ups t ON t.project_id = p.id AND t.status = 'open' AND t.priority IN ('high', 'urgent')
         WHERE p.id IN (SELECT id FROM batch) AND p.touch_ups_alerted_at IS NULL
           AND p.status = 'active'  -- a completed or archived project needs nobody on site
         GROUP BY p.id HAVING count(t.id) >= 3
    ), locked AS (
        SELECT p.id FROM projects p WHERE p.id IN (SELECT id FROM serious) AND p.touch_ups_alerted_at IS NULL
           FOR UPDATE
    ), told AS (
        INSERT INTO in_app_notifications
               (business_id, user_id, message_key, event, entity_type, entity_id, title, link)
        SELECT s.business_id, u.id,
               'project:' || s.id || '\\:touch_ups.high_priority\\:'
                 || extract(epoch FROM CAST(:now AS timestamptz)) || '\\:user\\:' || u.id,
               'touch_ups.high_priority', 'project', s.id,
               left(s.name || ': ' || s.open_serious || ' open high-priority touch-ups', 300),
               '/v1/projects/' || s.id || '/touch-ups'
          FROM serious s
          JOIN locked l ON l.id = s.id
          -- admins hear of every project, PMs of the projects they are members of (as db.staff.tell)
          JOIN staff_users u ON u.business_id = s.business_id
               AND (u.roles && ARRAY['admin']::varchar[]
                    OR (u.roles && ARRAY['pm']::varchar[]
                        AND EXISTS (SELECT 1 FROM project_members m
                                     WHERE m.project_id = s.id AND m.staff_user_id = u.id)))
        ON CONFLICT (message_key) DO NOTHING
        RETURNING id
    ), changed AS (
        UPDATE projects p SET touch_ups_alerted_at = :now FROM locked l WHERE p.id = l.id RETURNING p.id
    )
    """
    + _RESULT
)

STATEMENTS: dict[str, TextClause] = {
    "touch-up-check": TOUCH_UP_CHECK,
    "inventory-shortage-check": INVENTORY_SHORTAGE_CHECK,
    "project-archive": PROJECT_ARCHIVE,
    "in-app-notification-archive": IN_APP_NOTIFICATION_ARCHIVE,
    "appointment-archive": APPOINTMENT_ARCHIVE,
    "chat-room-archive": CHAT_ROOM_ARCHIVE,
    "call-record-cleanup": CALL_RECORD_CLEANUP,
    "event-retention": EVENT_RETENTION,
    "reputation-recovery": REPUTATION_RECOVERY,
    "business-stats": BUSINESS_STATS,
}
