// rocksdb_ext.cc - the one RocksDB setting Strata needs that RocksDB's C API
// (rocksdb/c.h, 7.8) does not offer, and the only C++ in Strata.
//
// IngestExternalFileOptions::write_global_seqno (default true) makes an
// ingest write the file's global sequence number into the ingested file
// itself. A bulk load (bulk.c) moves its table files in by hard link, so that
// write changed the staging file too, and a staging file that a crash left
// behind after its ingest was then refused as corrupt when the next start
// ingested it again ("global seqno property ... while largest seqno in the
// file is 0"): stratad would not start. With it off RocksDB keeps the number
// in its MANIFEST only (what RocksDB recommends for new deployments), and a
// staging file stays exactly as SstFileWriter wrote it.
//
// RocksDB's c.cc defines each C handle as a struct wrapping the C++ object as
// its only member, `rep`; this declares the same struct to reach it. The
// test test_store.bulk_load_finished_at_open fails if the setting does not
// take (it ingests a staging file a second time).
#include <rocksdb/c.h>
#include <rocksdb/options.h>

struct rocksdb_ingestexternalfileoptions_t {
    rocksdb::IngestExternalFileOptions rep;
};

extern "C" void store_ingest_options_keep_files(rocksdb_ingestexternalfileoptions_t *opt)
{
    opt->rep.write_global_seqno = false;
}
