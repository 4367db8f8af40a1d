CREATE TABLE IF NOT EXISTS users (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email          VARCHAR(254)    NOT NULL,
    password_hash  VARCHAR(255)    NOT NULL,
    access_role    VARCHAR(16)     NOT NULL DEFAULT 'basic',
    email_verified BOOLEAN         NOT NULL DEFAULT FALSE,
    disabled       BOOLEAN         NOT NULL DEFAULT FALSE,
    created        DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
