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
    reportInterval DOUBLE     NULL COMMENT 'seconds between reports, as the hub that stored the row asked (status judges silence by it)',
    PRIMARY KEY (node)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The daily roll-up, kept current by the hub (procmesh-hub rollup --rebuild computes it anew): per
-- local day (in the zone rollup_state names), computer, user and program. The rows with process ''
-- hold all the programs of that user at that computer together: their seconds are seat time.
CREATE TABLE IF NOT EXISTS rollup_usage (
    day          DATE         NOT NULL COMMENT 'local day, in the zone named in rollup_state',
    computerName VARCHAR(255) NOT NULL,
    user         VARCHAR(255) NOT NULL,
    process      VARCHAR(255) NOT NULL COMMENT 'a label, or empty for all the programs together',
    seconds      DOUBLE       NOT NULL COMMENT 'length of the union of the sessions in the day',
    programSeconds DOUBLE     NOT NULL COMMENT 'plain sum of the session times in the day',
    sessions     INT          NOT NULL COMMENT 'sessions with time in the day',
    carried      INT          NOT NULL COMMENT 'of those, the sessions that began before the day',
    firstStart   DATETIME(3)  NOT NULL COMMENT 'UTC, earliest start of those sessions',
    lastEnd      DATETIME(3)  NOT NULL COMMENT 'UTC, latest end of those sessions',
    activeSeconds     DOUBLE NULL COMMENT 'sum of their activeSeconds in the day (NULL: none measured)',
    foregroundSeconds DOUBLE NULL COMMENT 'sum of their foregroundSeconds in the day',
    PRIMARY KEY (day, computerName, user, process),
    KEY rollup_usage_process (process, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Concurrency per local day and program: how long exactly `level` computers (or users) ran it at
-- once, and when that level was first reached; peaks and time over the licences add up from it.
CREATE TABLE IF NOT EXISTS rollup_peak (
    day          DATE         NOT NULL COMMENT 'local day, in the zone named in rollup_state',
    process      VARCHAR(255) NOT NULL,
    counted      VARCHAR(16)  NOT NULL COMMENT 'computers or users',
    level        INT          NOT NULL COMMENT 'how many ran the program at the same time',
    seconds      DOUBLE       NOT NULL COMMENT 'time in the day at exactly that level',
    firstAt      DATETIME(3)  NOT NULL COMMENT 'UTC, first instant of the day at that level',
    PRIMARY KEY (day, process, counted, level)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Per local day and program, the highest level of rollup_peak and its row: a peak over months
-- reads one row a day of each program instead of every level. Filled from rollup_peak when the
-- table is created on a database that has a roll-up already (the INSERT below).
CREATE TABLE IF NOT EXISTS rollup_peak_top (
    day          DATE         NOT NULL COMMENT 'local day, in the zone named in rollup_state',
    process      VARCHAR(255) NOT NULL,
    counted      VARCHAR(16)  NOT NULL COMMENT 'computers or users',
    level        INT          NOT NULL COMMENT 'the most that ran the program at the same time that day',
    seconds      DOUBLE       NOT NULL COMMENT 'time in the day at that level',
    firstAt      DATETIME(3)  NOT NULL COMMENT 'UTC, first instant of the day at that level',
    PRIMARY KEY (day, process, counted)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO rollup_peak_top (day, process, counted, level, seconds, firstAt)
SELECT p.day, p.process, p.counted, p.level, p.seconds, p.firstAt FROM rollup_peak AS p
JOIN (SELECT day, process, counted, MAX(level) AS top FROM rollup_peak GROUP BY day, process, counted) AS t
ON t.day = p.day AND t.process = p.process AND t.counted = p.counted AND t.top = p.level;

-- Per local hour (its UTC start) and computer, all its users and programs together: seat time by
-- hour of day and weekday (report --by hour, weekday,hour, lab,weekday,hour) without raw sessions.
CREATE TABLE IF NOT EXISTS rollup_hours (
    hourStart    DATETIME(3)  NOT NULL COMMENT 'UTC start of a local hour, in the zone named in rollup_state',
    computerName VARCHAR(255) NOT NULL,
    seconds      DOUBLE       NOT NULL COMMENT 'seat time: per user the union of the sessions in the hour, summed',
    programSeconds DOUBLE     NOT NULL COMMENT 'plain sum of the session times in the hour',
    sessions     INT          NOT NULL COMMENT 'sessions with time in the hour',
    carried      INT          NOT NULL COMMENT 'of those, the sessions that began before the hour',
    firstStart   DATETIME(3)  NOT NULL COMMENT 'UTC, earliest start of those sessions',
    lastEnd      DATETIME(3)  NOT NULL COMMENT 'UTC, latest end of those sessions',
    activeSeconds     DOUBLE NULL,
    foregroundSeconds DOUBLE NULL,
    PRIMARY KEY (hourStart, computerName)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- rollup_usage summed over computers and users, per local day and program (process '': all
-- programs, the site's seat time): a year by month and program reads thousands of rows, not millions.
CREATE TABLE IF NOT EXISTS rollup_programs (
    day          DATE         NOT NULL COMMENT 'local day, in the zone named in rollup_state',
    process      VARCHAR(255) NOT NULL COMMENT 'a label, or empty for all the programs together',
    seconds      DOUBLE       NOT NULL,
    programSeconds DOUBLE     NOT NULL,
    sessions     INT          NOT NULL,
    carried      INT          NOT NULL,
    firstStart   DATETIME(3)  NOT NULL,
    lastEnd      DATETIME(3)  NOT NULL,
    activeSeconds     DOUBLE NULL,
    foregroundSeconds DOUBLE NULL,
    PRIMARY KEY (day, process)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sessions written since their days were rolled up, as spans of UTC hours (since 1970).
CREATE TABLE IF NOT EXISTS rollup_dirty (
    fromHour     BIGINT       NOT NULL,
    toHour       BIGINT       NOT NULL,
    PRIMARY KEY (fromHour, toHour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- zone: the time zone of the roll-up days; through: the first local day not rolled up yet.
CREATE TABLE IF NOT EXISTS rollup_state (
    name         VARCHAR(64)  NOT NULL,
    value        VARCHAR(255) NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Views for reporting tools (Grafana, Power BI, Metabase): see the README.
CREATE OR REPLACE VIEW usage_daily AS
    SELECT day, computerName, user, process, seconds, sessions FROM rollup_usage WHERE process <> '';

CREATE OR REPLACE VIEW seats_daily AS
    SELECT day, computerName, user, seconds, programSeconds, sessions FROM rollup_usage WHERE process = '';

CREATE OR REPLACE VIEW sessions_utc AS
    SELECT id, computerName, user, process, startTime, endTime,
           TIMESTAMPDIFF(MICROSECOND, startTime, endTime) / 1000000 AS seconds, node
    FROM records;
-- Accounts of the web dashboard (procmesh-hub web-user add): an argon2 hash, never a password.
CREATE TABLE IF NOT EXISTS web_users (
    name         VARCHAR(64)  NOT NULL,
    role         VARCHAR(16)  NOT NULL COMMENT 'admin or viewer',
    passwordHash VARCHAR(255) NOT NULL COMMENT 'argon2id',
    created      DATETIME(3)  NOT NULL COMMENT 'UTC',
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
