#!/usr/bin/env python3
"""docs/scale.md beyond one machine: a PySpark job that runs connscope on the executors,
next to the captures, and lands its JSONL rows as Parquet.

    spark_job.py CAPTURES OUT [--connscope PATH] [--master URL]

CAPTURES is a local or shared folder (every executor must see the same path) or a
Hadoop file-system URI (`s3a://bucket/prefix/`, `hdfs://…`) that the driver lists with
Hadoop's FileSystem API. Each capture is one Spark task: connscope reads it whole, so a
connection is never cut in two at a split boundary. The binary travels with the job
(`SparkContext.addFile`), so executors need nothing installed but Python.

OUT receives `connections/`, `findings/` and `errors/` (Parquet, partitioned by
`capture`, the capture's file name), `reuse_per_server/` (the answer to docs/scale.md's
query, computed by Spark SQL over the Parquet just written, as one JSON-lines file) and
`spark.log` (Spark's own log at WARN, kept out of the console).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

# A capture is a file connscope can open: pcap or pcapng, optionally compressed with
# one of the compressions it reads (gzip, zstd, lz4).
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
COMPRESSION_SUFFIXES = (".gz", ".zst", ".lz4")

# docs/scale.md's query, word for word except the FROM: the rows come from the
# connections table this job writes rather than from read_json_auto.
REUSE_PER_SERVER = """
SELECT file,
       server.ip || ':' || server.port            AS server,
       count(*)                                    AS connections,
       sum(requests)                               AS requests,
       round(count(*) / sum(requests), 3)          AS connections_per_request
FROM connections
WHERE type = 'connection' AND requests > 0
GROUP BY file, server
ORDER BY connections_per_request DESC, connections DESC, file, server
"""

# The tables the rows of each `type` go to.
TABLES = (("connection", "connections"), ("finding", "findings"), ("error", "errors"))

# How much of connscope's standard error an error row keeps: the reason is on its
# first line; a runaway stream must not grow a row without bound.
STDERR_KEPT = 4096

# Spark's log4j 2 configuration: everything at WARN and above into one file.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("captures", help="folder or Hadoop FS URI holding the captures")
    parser.add_argument("out", help="folder (or URI) for the Parquet tables and the answer")
    parser.add_argument(
        "--connscope",
        default=os.environ.get("CONNSCOPE") or shutil.which("connscope"),
        help="the connscope binary shipped to the executors "
        "(default: $CONNSCOPE, else connscope on PATH)",
    )
    parser.add_argument(
        "--master",
        help="Spark master URL (default: spark-submit's, else local[*]); on a cluster "
        "this and the paths are the only things that change",
    )
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="also take the captures in folders below CAPTURES (sensor/day/hour trees)",
    )
    parser.add_argument(
        "--spark-log", help="where Spark's own log goes (default: OUT/spark.log)"
    )
    parser.add_argument(
        "--show", type=int, default=20, help="rows of the answer to print (default 20)"
    )
    args = parser.parse_args(argv)
    if not args.connscope:
        parser.error("no connscope binary: pass --connscope PATH or set CONNSCOPE")
    if not (os.path.isfile(args.connscope) and os.access(args.connscope, os.X_OK)):
        parser.error(f"--connscope {args.connscope}: not an executable file")
    return args


def has_scheme(location):
    """A URI (`s3a://b/k`, and `file:/p` as Hadoop prints local files), not a path."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", location) is not None


def is_capture(name):
    name = name.lower()
    for compressed in COMPRESSION_SUFFIXES:
        if name.endswith(compressed):
            name = name[: -len(compressed)]
            break
    return name.endswith(CAPTURE_SUFFIXES)


def biggest_first(found):
    """Paths from (size, path) pairs, the biggest first (then by path, for a stable
    order), so that the last task of the job is a small one."""
    return [path for _, path in sorted(found, key=lambda t: (-t[0], t[1]))]


def list_local(folder, recursive=False):
    """The captures in `folder` (directly, as `ls folder/*.pcap*` would, or in any
    folder below it), as paths joined to `folder` exactly as given so connscope's
    `file` field reads the same as it does when connscope is run by hand there."""
    found = []
    for parent, folders, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            if is_capture(name) and os.path.isfile(path):
                found.append((os.path.getsize(path), path))
        if not recursive:
            break
    return biggest_first(found)


def list_hadoop(spark, uri, recursive=False):
    """The captures under a Hadoop FS URI (s3a://, gs://, abfs://, hdfs://), listed
    through the JVM's FileSystem: the connector is whatever the cluster already
    configures for that scheme."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    files = path.getFileSystem(conf).listFiles(path, recursive)
    found = []
    while files.hasNext():
        status = files.next()
        if is_capture(status.getPath().getName()):
            found.append((status.getLen(), status.getPath().toString()))
    return biggest_first(found)


def open_remote(uri):
    """A binary stream of a capture an executor cannot see as a local file. fsspec
    (with s3fs, gcsfs or adlfs beside it) takes Hadoop's URIs as they are: it knows
    `s3a://`, `gs://` and `abfs://` by those names."""
    import fsspec  # only needed for object stores, so only imported for them

    return fsspec.open(uri, "rb").open()


def local_path(location):
    """The path connscope can open for `location`, or None when the bytes have to be
    streamed to it (an object store)."""
    if not has_scheme(location):
        return location
    if location.startswith("file:"):
        # Hadoop prints local files as file:/abs/path or file:///abs/path.
        return "/" + location[len("file:") :].lstrip("/")
    return None


def feed(source, sink, failures):
    """Copies an object-store stream into connscope's standard input, then closes it
    so connscope sees the end of the capture. A read that fails lands in `failures`:
    connscope would otherwise take the cut stream for a short capture."""
    try:
        shutil.copyfileobj(source, sink, 1 << 20)
    except BrokenPipeError:
        pass  # connscope stopped reading (it rejected the file): its exit code says why
    except Exception as failure:  # noqa: BLE001  (re-raised by the task)
        failures.append(failure)
    finally:
        source.close()
        try:
            sink.close()
        except BrokenPipeError:
            pass


def analyze_capture(connscope, location):
    """Yields (type, JSON line) for every row connscope prints for one capture, as it
    prints them; a capture connscope rejects (exit 2) yields one `error` row instead of
    failing the task, so one bad file in a terabyte does not stop the job."""
    path = local_path(location)
    # Opened before connscope starts, so an object that cannot be read fails the task
    # without leaving a connscope waiting on its input.
    source = None if path else open_remote(location)
    command = [connscope, "analyze", "-q", "--format", "jsonl", path or "-"]
    failures = []
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if source is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        feeder = None
        if source is not None:
            feeder = threading.Thread(
                target=feed, args=(source, proc.stdin, failures), daemon=True
            )
            feeder.start()
        try:
            for raw in proc.stdout:
                row = json.loads(raw)
                if path is None:
                    # connscope names standard input `-`; the row should name the object.
                    row["file"] = location
                    yield row["type"], json.dumps(row, separators=(",", ":"))
                else:
                    yield row["type"], raw.decode("utf-8").rstrip("\n")
            code = proc.wait()
        finally:
            # The consumer may stop early (a failed write, take()): don't leave
            # connscope running behind it.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if feeder is not None:
            feeder.join()
            if failures:
                raise RuntimeError(f"reading {location} failed: {failures[0]}")
        stderr.seek(0)
        message = stderr.read(STDERR_KEPT).decode("utf-8", "replace").strip()
    if code == 2:
        error = {"type": "error", "file": location, "exit_code": code, "message": message}
        yield "error", json.dumps(error, separators=(",", ":"))
    elif code != 0:
        # analyze exits 0 or 2; anything else (a signal, an out-of-memory kill) is the
        # machine's fault, and Spark's retry on another executor is the right answer.
        raise RuntimeError(f"connscope exited {code} on {location}: {message}")


def analyze_partition(locations, binary_name, tally):
    """One Spark partition: the captures it was handed, one after another. `tally`
    counts the rows of each type for the job's summary line."""
    from pyspark import SparkFiles

    connscope = SparkFiles.get(binary_name)
    if not os.access(connscope, os.X_OK):
        os.chmod(connscope, 0o755)
    for location in locations:
        for kind, line in analyze_capture(connscope, location):
            if kind in tally:
                tally[kind].add(1)
            yield kind, line


def start_spark(args, log_path):
    """A session whose own log goes to `log_path`. That holds where this process starts
    the driver's JVM (python3 spark_job.py); under spark-submit the JVM is already up
    and the cluster's log settings apply."""
    from pyspark.sql import SparkSession

    conf_dir = tempfile.mkdtemp(prefix="connscope-spark-")
    log4j = os.path.join(conf_dir, "log4j2.properties")
    with open(log4j, "w") as out:
        out.write(LOG4J2.format(path=log_path))
    builder = (
        SparkSession.builder.appName("connscope")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
        .config("spark.ui.showConsoleProgress", "false")
        # JSON keys are case-sensitive; Spark's default would take two keys that
        # differ only in case for one column and refuse to write them.
        .config("spark.sql.caseSensitive", "true")
    )
    if args.master:
        builder = builder.master(args.master)
        if args.master.startswith("local"):
            # Nobody watches a local run's web UI; it would only take a port.
            builder = builder.config("spark.ui.enabled", "false")
    try:
        return builder.getOrCreate()
    finally:
        # log4j has read it by the time the session exists.
        shutil.rmtree(conf_dir, ignore_errors=True)


def remove(spark, location):
    """Deletes a folder or URI and all under it, through Hadoop's FileSystem so that
    object stores work as local folders do."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path.getFileSystem(conf).delete(path, True)


def write_tables(spark, captures, binary_name, out):
    """Runs connscope over every capture and writes each row type to its Parquet table,
    partitioned by capture file name. Returns {type: rows written}."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    sc = spark.sparkContext
    tally = {kind: sc.accumulator(0) for kind, _ in TABLES}
    # One capture per partition, so a capture is never split and the scheduler hands
    # the next capture to whichever core is free (the biggest went first). Each row is
    # wrapped as {"<type>": row}: one schema-inference pass then infers the three
    # tables' schemas side by side, each without the others' columns. That pass is the
    # one that runs connscope; the rows stay cached for the writes.
    wrapped = (
        sc.parallelize(captures, len(captures))
        .mapPartitions(lambda part: analyze_partition(part, binary_name, tally))
        .map(lambda row: '{"%s":%s}' % row)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    schema = spark.read.json(wrapped).schema
    # Past connscope a task per capture is only overhead: one task per core reads the
    # cached rows. A capture's rows stay together, one file per capture and table.
    frame = spark.read.schema(schema).json(wrapped.coalesce(sc.defaultParallelism))
    for kind, table in TABLES:
        if kind not in schema.fieldNames():
            # No rows, no schema: Spark cannot write a table without columns. A table
            # left by an earlier run into the same OUT would be taken for this one's.
            remove(spark, f"{out}/{table}")
            continue
        (
            frame.where(F.col(kind).isNotNull())
            .select(f"{kind}.*")
            .withColumn("capture", F.regexp_extract("file", r"[^/]*$", 0))
            .write.mode("overwrite")
            .partitionBy("capture")
            .parquet(f"{out}/{table}")
        )
    wrapped.unpersist()
    return {kind: tally[kind].value for kind, _ in TABLES}


def main(argv):
    args = parse_args(argv)
    if not has_scheme(args.out):
        os.makedirs(args.out, exist_ok=True)
    log_path = args.spark_log or os.path.join(
        args.out if not has_scheme(args.out) else tempfile.gettempdir(), "spark.log"
    )
    spark = start_spark(args, os.path.abspath(log_path))
    try:
        if has_scheme(args.captures):
            captures = list_hadoop(spark, args.captures, args.recursive)
        else:
            captures = list_local(args.captures, args.recursive)
        if not captures:
            print(f"spark job: no captures in {args.captures}", file=sys.stderr)
            return 2
        spark.sparkContext.addFile(os.path.abspath(args.connscope))
        counts = write_tables(spark, captures, os.path.basename(args.connscope), args.out)

        print(
            f"spark job: {len(captures)} captures, {counts['connection']} connections, "
            f"{counts['finding']} findings, {counts['error']} rejected by connscope"
        )
        if counts["error"]:
            errors = spark.read.parquet(f"{args.out}/errors").orderBy("file")
            for row in errors.take(args.show):
                print(f"  rejected {row.file}: {row.message}")
        if not counts["connection"]:
            remove(spark, f"{args.out}/reuse_per_server")
            return 0

        spark.read.parquet(f"{args.out}/connections").createOrReplaceTempView(
            "connections"
        )
        answer = spark.sql(REUSE_PER_SERVER).cache()
        # One file, in the query's order: the answer is small (one row per file and
        # server) and is read by people and by tests/scale/spark_check.py.
        answer.coalesce(1).write.mode("overwrite").json(f"{args.out}/reuse_per_server")
        for row in answer.take(args.show):
            print(
                f"  {row.file}  {row.server}  {row.connections} connections  "
                f"{row.requests} requests  {row.connections_per_request}"
            )
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
