-- The tables pbxedge reads and writes, laid out as Asterisk's own alembic scripts create
-- them (config tree: iaxfriends, extensions; cdr tree: cdr), so Asterisk and existing
-- provisioning tools and reports keep working on the same database.
-- Load with: pbxedge realtime-sql tables | psql -d asterisk
-- then apply migrate.sql the same way.

CREATE TYPE type_values AS ENUM ('friend', 'user', 'peer');
CREATE TYPE yes_no_values AS ENUM ('yes', 'no');
CREATE TYPE iax_requirecalltoken_values AS ENUM ('yes', 'no', 'auto');
CREATE TYPE iax_encryption_values AS ENUM ('yes', 'no', 'aes128');
CREATE TYPE iax_transfer_values AS ENUM ('yes', 'no', 'mediaonly');

CREATE TABLE iaxfriends (
    id SERIAL NOT NULL,
    name VARCHAR(40) NOT NULL,
    type type_values,
    username VARCHAR(40),
    mailbox VARCHAR(40),
    secret VARCHAR(40),
    dbsecret VARCHAR(40),
    context VARCHAR(40),
    regcontext VARCHAR(40),
    host VARCHAR(40),
    ipaddr VARCHAR(40),
    port INTEGER,
    defaultip VARCHAR(20),
    sourceaddress VARCHAR(20),
    mask VARCHAR(20),
    regexten VARCHAR(40),
    regseconds INTEGER,
    accountcode VARCHAR(80),
    mohinterpret VARCHAR(20),
    mohsuggest VARCHAR(20),
    inkeys VARCHAR(40),
    outkeys VARCHAR(40),
    language VARCHAR(10),
    callerid VARCHAR(100),
    cid_number VARCHAR(40),
    sendani yes_no_values,
    fullname VARCHAR(40),
    trunk yes_no_values,
    auth VARCHAR(20),
    maxauthreq INTEGER,
    requirecalltoken iax_requirecalltoken_values,
    encryption iax_encryption_values,
    transfer iax_transfer_values,
    jitterbuffer yes_no_values,
    forcejitterbuffer yes_no_values,
    disallow VARCHAR(200),
    allow VARCHAR(200),
    codecpriority VARCHAR(40),
    "qualify" VARCHAR(10),
    qualifysmoothing yes_no_values,
    qualifyfreqok VARCHAR(10),
    qualifyfreqnotok VARCHAR(10),
    timezone VARCHAR(20),
    adsi yes_no_values,
    amaflags VARCHAR(20),
    setvar VARCHAR(200),
    PRIMARY KEY (id),
    UNIQUE (name)
);
CREATE INDEX iaxfriends_name ON iaxfriends (name);
CREATE INDEX iaxfriends_name_host ON iaxfriends (name, host);
CREATE INDEX iaxfriends_name_ipaddr_port ON iaxfriends (name, ipaddr, port);
CREATE INDEX iaxfriends_ipaddr_port ON iaxfriends (ipaddr, port);
CREATE INDEX iaxfriends_host_port ON iaxfriends (host, port);

CREATE TABLE extensions (
    id BIGSERIAL NOT NULL,
    context VARCHAR(40) NOT NULL,
    exten VARCHAR(40) NOT NULL,
    priority INTEGER NOT NULL,
    app VARCHAR(40) NOT NULL,
    appdata VARCHAR(256) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (context, exten, priority)
);

CREATE TABLE cdr (
    accountcode VARCHAR(80),
    src VARCHAR(80),
    dst VARCHAR(80),
    dcontext VARCHAR(80),
    clid VARCHAR(80),
    channel VARCHAR(80),
    dstchannel VARCHAR(80),
    lastapp VARCHAR(80),
    lastdata VARCHAR(80),
    start TIMESTAMP WITHOUT TIME ZONE,
    answer TIMESTAMP WITHOUT TIME ZONE,
    "end" TIMESTAMP WITHOUT TIME ZONE,
    duration INTEGER,
    billsec INTEGER,
    disposition VARCHAR(45),
    amaflags VARCHAR(45),
    userfield VARCHAR(256),
    uniqueid VARCHAR(150),
    linkedid VARCHAR(150),
    peeraccount VARCHAR(80),
    sequence INTEGER
);
