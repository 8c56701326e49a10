-- PostgreSQL form of schema/010_fleet_days.sql.
-- The fleet's trend kept as it is written: one row per day on which a result was recorded,
-- counting every image reference at its latest result to the end of that day, so that a trend
-- of N days reads N rows whatever the number of images. A day without a row is as the one
-- before it.

-- Each reference's latest judged result: what its next result replaces in the counts.
CREATE TABLE latest_results (
  image       TEXT PRIMARY KEY,
  score       INTEGER NOT NULL,
  grade       TEXT NOT NULL,
  finished_at TEXT NOT NULL
);

CREATE TABLE fleet_days (
  day       TEXT PRIMARY KEY,
  images    BIGINT NOT NULL,  -- references with a result so far
  scans     BIGINT NOT NULL,  -- results recorded that day
  score_sum BIGINT NOT NULL
);

-- The day's references by grade and by score (its lowest score is the lowest with images).
CREATE TABLE fleet_day_grades (
  day    TEXT NOT NULL,
  grade  TEXT NOT NULL,
  images BIGINT NOT NULL,
  PRIMARY KEY (day, grade)
);
CREATE TABLE fleet_day_scores (
  day    TEXT NOT NULL,
  score  INTEGER NOT NULL,
  images BIGINT NOT NULL,
  PRIMARY KEY (day, score)
);

-- Backfill from the daily results kept so far: each reference's latest result to each day.
CREATE INDEX daily_results_by_image ON daily_results(image, day);

CREATE TABLE fleet_backfill AS
SELECT d.day AS day, r.score AS score, r.grade AS grade
FROM (SELECT DISTINCT day FROM daily_results) d
CROSS JOIN (SELECT DISTINCT image FROM daily_results) i
JOIN daily_results r ON r.image = i.image
  AND r.day = (SELECT max(x.day) FROM daily_results x WHERE x.image = i.image AND x.day <= d.day);

INSERT INTO fleet_days(day, images, scans, score_sum)
SELECT b.day, count(*), (SELECT sum(scans) FROM daily_results x WHERE x.day = b.day), sum(b.score)
FROM fleet_backfill b GROUP BY b.day;
INSERT INTO fleet_day_grades(day, grade, images)
SELECT day, grade, count(*) FROM fleet_backfill GROUP BY day, grade;
INSERT INTO fleet_day_scores(day, score, images)
SELECT day, score, count(*) FROM fleet_backfill GROUP BY day, score;
DROP TABLE fleet_backfill;

INSERT INTO latest_results(image, score, grade, finished_at)
SELECT r.image, r.score, r.grade, r.finished_at FROM daily_results r
WHERE r.day = (SELECT max(x.day) FROM daily_results x WHERE x.image = r.image);
