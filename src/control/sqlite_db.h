// A thin RAII layer over the SQLite C API: a connection, prepared statements
// and transactions, with every error turned into std::runtime_error carrying
// SQLite's message. Only what sqlite_store.cc needs.
//
// Thread-safety: none; the store serializes access with its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace graymesh::control::sqlite {

class Db {
 public:
  // Opens (creating) the file. Throws std::runtime_error.
  explicit Db(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs statements without results (schema, pragmas, BEGIN/COMMIT).
  void Exec(const std::string& sql);
  sqlite3* handle() { return db_; }
  [[noreturn]] void Fail(std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binds are 1-based, like SQLite's.
  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, int64_t v);
  // Steps once: true while a row is available.
  bool Step();
  // Runs a statement without rows to completion.
  void Run();
  std::string Text(int col) const;
  int64_t Int(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction (the write lock is taken up front, so a
// transaction never fails half-way for lack of it); ROLLBACK unless Commit()
// ran, so an exception leaves nothing half-written.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void Commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace graymesh::control::sqlite
