-- procmesh: the MariaDB schema of record.
--
-- The hub creates these tables itself when they are missing (`procmesh-hub init-db` does only that),
-- so applying this file by hand is optional:  mariadb procmesh < records.sql
-- Applying it twice is harmless. All times are UTC with millisecond precision.
--
-- `records` keeps the columns of the original project (id, client_ip, user, computerName, process,
-- startTime, endTime), so existing queries keep working; one row is one session: a time span during
-- which a watched program ran on one computer for one user.

CREATE TABLE IF NOT EXISTS records (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    client_ip    VARCHAR(45)  NOT NULL,
    user         VARCHAR(255) NOT NULL,
    computerName VARCHAR(255) NOT NULL,
    process      VARCHAR(255) NOT NULL,
    startTime    DATETIME(3)  NOT NULL COMMENT 'UTC',
    endTime      DATETIME(3)  NOT NULL COMMENT 'UTC, last time the program was seen running',
    sid          BINARY(16)   NOT NULL COMMENT 'session id chosen by the node (UUIDv7)',
    node         VARCHAR(255) NOT NULL COMMENT 'id of the node that reported the session',
    activeSeconds     DOUBLE NULL COMMENT 'seconds of it the user was active at the computer (NULL: not measured)',
    foregroundSeconds DOUBLE NULL COMMENT 'seconds of it one of its processes had the focused window, the user active',
    PRIMARY KEY (id),
    UNIQUE KEY records_sid (sid),
    KEY records_endTime (endTime),
    KEY records_startTime (startTime),
    KEY records_computer_start (computerName, startTime),
    KEY records_user_start (user, startTime),
    KEY records_process_start (process, startTime)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per node (one node runs per user per computer). client_ip is the address the hub saw,
-- not what the node claims; online is the last state the hub recorded.
CREATE TABLE IF NOT EXISTS nodes (
    node         VARCHAR(255) NOT NULL,
    computerName VARCHAR(255) NOT NULL,
    user         VARCHAR(255) NOT NULL,
    client_ip    VARCHAR(45)  NOT NULL COMMENT 'address the hub saw the node connect from',
    platform     VARCHAR(255) NOT NULL,
    agent        VARCHAR(255) NOT NULL,
    cfg          VARCHAR(255) NOT NULL COMMENT 'digest of the watch list the node applied',
    firstSeen    DATETIME(3)  NOT NULL COMMENT 'UTC',
    lastSeen     DATETIME(3)  NOT NULL COMMENT 'UTC',
    online       TINYINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (node)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
