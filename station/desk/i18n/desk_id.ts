<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="id_ID" sourcelanguage="en">
<context>
    <name>desk</name>
    <message>
        <source>SSN issuance desk: {desk}</source>
        <translation>Loket penerbitan kartu SSN: {desk}</translation>
    </message>
    <message>
        <source>DEVELOPMENT KEY SET: cards made here are for testing only</source>
        <translation>SET KUNCI PENGEMBANGAN: kartu yang dibuat di sini hanya untuk uji coba</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Bahasa</translation>
    </message>
    <message>
        <source>Reader: {reader}</source>
        <translation>Pembaca kartu: {reader}</translation>
    </message>
    <message>
        <source>Working with the card... keep it on the reader</source>
        <translation>Sedang memproses kartu... biarkan kartu di pembaca</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>Siap</translation>
    </message>
    <message>
        <source>{name} ({role})</source>
        <translation>{name} ({role})</translation>
    </message>
    <message>
        <source>Log out</source>
        <translation>Keluar</translation>
    </message>
    <message>
        <source>clerk</source>
        <translation>petugas</translation>
    </message>
    <message>
        <source>supervisor</source>
        <translation>supervisor</translation>
    </message>
    <message>
        <source>Clerk login</source>
        <translation>Masuk petugas</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nama</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>Kata sandi</translation>
    </message>
    <message>
        <source>Log in</source>
        <translation>Masuk</translation>
    </message>
    <message>
        <source>Development accounts: clerk / clerk-dev-pass, supervisor / supervisor-dev-pass</source>
        <translation>Akun pengembangan: clerk / clerk-dev-pass, supervisor / supervisor-dev-pass</translation>
    </message>
    <message>
        <source>Households</source>
        <translation>Rumah tangga</translation>
    </message>
    <message>
        <source>Reviews</source>
        <translation>Peninjauan</translation>
    </message>
    <message>
        <source>Issue card</source>
        <translation>Terbitkan kartu</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>Antrean</translation>
    </message>
    <message>
        <source>Card services</source>
        <translation>Layanan kartu</translation>
    </message>
    <message>
        <source>Dashboard</source>
        <translation>Ringkasan</translation>
    </message>
    <message>
        <source>NIK, KK number, name or card serial</source>
        <translation>NIK, nomor KK, nama atau nomor kartu</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>Cari</translation>
    </message>
    <message>
        <source>Import survey export...</source>
        <translation>Impor data survei...</translation>
    </message>
    <message>
        <source>No household found for "{query}".</source>
        <translation>Tidak ada rumah tangga untuk "{query}".</translation>
    </message>
    <message>
        <source>{count} household(s) found.</source>
        <translation>{count} rumah tangga ditemukan.</translation>
    </message>
    <message>
        <source>Issue a card to this household</source>
        <translation>Terbitkan kartu untuk rumah tangga ini</translation>
    </message>
    <message>
        <source>Add to batch queue</source>
        <translation>Tambahkan ke antrean</translation>
    </message>
    <message>
        <source>Imported {rows} rows: {accepted} accepted, {rejected} rejected, {review} new to review.</source>
        <translation>Diimpor {rows} baris: {accepted} diterima, {rejected} ditolak, {review} baru untuk ditinjau.</translation>
    </message>
    <message>
        <source>KK number</source>
        <translation>Nomor KK</translation>
    </message>
    <message>
        <source>Head of household</source>
        <translation>Kepala keluarga</translation>
    </message>
    <message>
        <source>NIK</source>
        <translation>NIK</translation>
    </message>
    <message>
        <source>Kecamatan</source>
        <translation>Kecamatan</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Card</source>
        <translation>Kartu</translation>
    </message>
    <message>
        <source>No.</source>
        <translation>No.</translation>
    </message>
    <message>
        <source>Finding</source>
        <translation>Temuan</translation>
    </message>
    <message>
        <source>Score</source>
        <translation>Skor</translation>
    </message>
    <message>
        <source>Why</source>
        <translation>Alasan</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nama</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Hasil</translation>
    </message>
    <message>
        <source>Eligible, no card yet</source>
        <translation>Berhak, belum punya kartu</translation>
    </message>
    <message>
        <source>In review</source>
        <translation>Dalam peninjauan</translation>
    </message>
    <message>
        <source>Card active</source>
        <translation>Kartu aktif</translation>
    </message>
    <message>
        <source>Card blocked</source>
        <translation>Kartu diblokir</translation>
    </message>
    <message>
        <source>Not eligible</source>
        <translation>Tidak berhak</translation>
    </message>
    <message>
        <source>Duplicate row</source>
        <translation>Baris ganda</translation>
    </message>
    <message>
        <source>Same NIK, other data</source>
        <translation>NIK sama, data lain</translation>
    </message>
    <message>
        <source>Probably the same person</source>
        <translation>Kemungkinan orang yang sama</translation>
    </message>
    <message>
        <source>Person in two households</source>
        <translation>Orang di dua rumah tangga</translation>
    </message>
    <message>
        <source>Check the record</source>
        <translation>Periksa data</translation>
    </message>
    <message>
        <source>Flagged record</source>
        <translation>Data yang ditandai</translation>
    </message>
    <message>
        <source>Other record</source>
        <translation>Data lainnya</translation>
    </message>
    <message>
        <source>Same person: keep the other record</source>
        <translation>Orang yang sama: simpan data lainnya</translation>
    </message>
    <message>
        <source>Different people</source>
        <translation>Orang yang berbeda</translation>
    </message>
    <message>
        <source>Record is correct</source>
        <translation>Data sudah benar</translation>
    </message>
    <message>
        <source>Reject the flagged record</source>
        <translation>Tolak data yang ditandai</translation>
    </message>
    <message>
        <source>Reason (needed to reject)</source>
        <translation>Alasan (wajib untuk menolak)</translation>
    </message>
    <message>
        <source>No open reviews.</source>
        <translation>Tidak ada peninjauan terbuka.</translation>
    </message>
    <message>
        <source>Review no. {item} decided.</source>
        <translation>Peninjauan no. {item} sudah diputuskan.</translation>
    </message>
    <message>
        <source>{count} open review(s).</source>
        <translation>{count} peninjauan terbuka.</translation>
    </message>
    <message>
        <source>NIK</source>
        <translation>NIK</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nama</translation>
    </message>
    <message>
        <source>Born</source>
        <translation>Lahir</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Alamat</translation>
    </message>
    <message>
        <source>KK number</source>
        <translation>Nomor KK</translation>
    </message>
    <message>
        <source>Household</source>
        <translation>Rumah tangga</translation>
    </message>
    <message>
        <source>Choose a household on the Households tab first.</source>
        <translation>Pilih dulu rumah tangga di tab Rumah tangga.</translation>
    </message>
    <message>
        <source>Photo</source>
        <translation>Foto</translation>
    </message>
    <message>
        <source>Choose photo...</source>
        <translation>Pilih foto...</translation>
    </message>
    <message>
        <source>No photo chosen</source>
        <translation>Belum ada foto</translation>
    </message>
    <message>
        <source>Cardholder's PIN (4-8 digits)</source>
        <translation>PIN pemegang kartu (4-8 angka)</translation>
    </message>
    <message>
        <source>Print to</source>
        <translation>Cetak ke</translation>
    </message>
    <message>
        <source>PDF file (no card printer)</source>
        <translation>Berkas PDF (tanpa printer kartu)</translation>
    </message>
    <message>
        <source>Issue card</source>
        <translation>Terbitkan kartu</translation>
    </message>
    <message>
        <source>Print again</source>
        <translation>Cetak ulang</translation>
    </message>
    <message>
        <source>Card {serial} issued to {name}. Hand it over.</source>
        <translation>Kartu {serial} diterbitkan untuk {name}. Serahkan kartunya.</translation>
    </message>
    <message>
        <source>The card was found half-made and was personalised again from the start.</source>
        <translation>Kartu ditemukan setengah jadi dan ditulis ulang dari awal.</translation>
    </message>
    <message>
        <source>The PIN must be 4 to 8 digits.</source>
        <translation>PIN harus 4 sampai 8 angka.</translation>
    </message>
    <message>
        <source>Check household and card</source>
        <translation>Periksa rumah tangga dan kartu</translation>
    </message>
    <message>
        <source>Write the chip</source>
        <translation>Tulis chip</translation>
    </message>
    <message>
        <source>Verify by reading back</source>
        <translation>Periksa dengan membaca ulang</translation>
    </message>
    <message>
        <source>Print the card face</source>
        <translation>Cetak muka kartu</translation>
    </message>
    <message>
        <source>Record in the register</source>
        <translation>Catat di register</translation>
    </message>
    <message>
        <source>Move the balance</source>
        <translation>Pindahkan saldo</translation>
    </message>
    <message>
        <source>Card left half-made</source>
        <translation>Kartu setengah jadi</translation>
    </message>
    <message>
        <source>Card {serial} was pulled out while it was being written.
Resume: write it again from the start (keeps the card).
Wipe: return it to blank, then present it again.</source>
        <translation>Kartu {serial} diangkat saat sedang ditulis.
Lanjutkan: tulis ulang dari awal (kartu tetap dipakai).
Hapus: kembalikan ke kosong, lalu tempelkan lagi.</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>Lanjutkan</translation>
    </message>
    <message>
        <source>Wipe</source>
        <translation>Hapus</translation>
    </message>
    <message>
        <source>Add selected household</source>
        <translation>Tambahkan rumah tangga terpilih</translation>
    </message>
    <message>
        <source>Start the queue</source>
        <translation>Mulai antrean</translation>
    </message>
    <message>
        <source>Waiting</source>
        <translation>Menunggu</translation>
    </message>
    <message>
        <source>Being issued...</source>
        <translation>Sedang diterbitkan...</translation>
    </message>
    <message>
        <source>Issued: card {serial}</source>
        <translation>Diterbitkan: kartu {serial}</translation>
    </message>
    <message>
        <source>Set aside: {why}</source>
        <translation>Disisihkan: {why}</translation>
    </message>
    <message>
        <source>{done} issued, {aside} set aside, {left} waiting.</source>
        <translation>{done} diterbitkan, {aside} disisihkan, {left} menunggu.</translation>
    </message>
    <message>
        <source>Each household gets the next card the printer feeds. A failed card is set aside and the queue goes on.</source>
        <translation>Setiap rumah tangga mendapat kartu berikutnya dari printer. Kartu yang gagal disisihkan dan antrean berlanjut.</translation>
    </message>
    <message>
        <source>Read and verify the card</source>
        <translation>Baca dan periksa kartu</translation>
    </message>
    <message>
        <source>Card {serial}: {verdict}, chip state {state}, register: {register}</source>
        <translation>Kartu {serial}: {verdict}, status chip {state}, register: {register}</translation>
    </message>
    <message>
        <source>genuine</source>
        <translation>asli</translation>
    </message>
    <message>
        <source>NOT GENUINE ({why})</source>
        <translation>TIDAK ASLI ({why})</translation>
    </message>
    <message>
        <source>not in the register</source>
        <translation>tidak ada di register</translation>
    </message>
    <message>
        <source>{programme}: {amount}</source>
        <translation>{programme}: {amount}</translation>
    </message>
    <message>
        <source>no purses</source>
        <translation>tidak ada dompet</translation>
    </message>
    <message>
        <source>Load programme funds</source>
        <translation>Isi dana program</translation>
    </message>
    <message>
        <source>Agency (OPD)</source>
        <translation>Instansi (OPD)</translation>
    </message>
    <message>
        <source>Programme</source>
        <translation>Program</translation>
    </message>
    <message>
        <source>Amount</source>
        <translation>Jumlah</translation>
    </message>
    <message>
        <source>Load funds</source>
        <translation>Isi dana</translation>
    </message>
    <message>
        <source>Loaded {amount}. New balance {balance}.</source>
        <translation>Terisi {amount}. Saldo baru {balance}.</translation>
    </message>
    <message>
        <source>Lost or stolen card</source>
        <translation>Kartu hilang atau dicuri</translation>
    </message>
    <message>
        <source>Card serial</source>
        <translation>Nomor kartu</translation>
    </message>
    <message>
        <source>Reason</source>
        <translation>Alasan</translation>
    </message>
    <message>
        <source>lost</source>
        <translation>hilang</translation>
    </message>
    <message>
        <source>Block the card</source>
        <translation>Blokir kartu</translation>
    </message>
    <message>
        <source>Card {serial} is blocked and goes on the next hotlist.</source>
        <translation>Kartu {serial} diblokir dan masuk daftar hitam berikutnya.</translation>
    </message>
    <message>
        <source>Issue replacement with balance</source>
        <translation>Terbitkan pengganti dengan saldo</translation>
    </message>
    <message>
        <source>Replacement {serial} issued; {amount} moved from the back office's record of the lost card.</source>
        <translation>Kartu pengganti {serial} diterbitkan; {amount} dipindahkan dari catatan kantor pusat untuk kartu yang hilang.</translation>
    </message>
    <message>
        <source>The back office can move from the lost card now: {amount}</source>
        <translation>Saldo kartu hilang yang bisa dipindahkan sekarang: {amount}</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN</translation>
    </message>
    <message>
        <source>Old PIN</source>
        <translation>PIN lama</translation>
    </message>
    <message>
        <source>New PIN</source>
        <translation>PIN baru</translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation>Ganti PIN</translation>
    </message>
    <message>
        <source>Unblock PIN (supervisor)</source>
        <translation>Buka blokir PIN (supervisor)</translation>
    </message>
    <message>
        <source>The PIN was changed.</source>
        <translation>PIN sudah diganti.</translation>
    </message>
    <message>
        <source>The PIN was reset; all tries restored.</source>
        <translation>PIN sudah diatur ulang; semua percobaan dipulihkan.</translation>
    </message>
    <message>
        <source>Supervisor confirmation</source>
        <translation>Konfirmasi supervisor</translation>
    </message>
    <message>
        <source>A supervisor must confirm: {action}</source>
        <translation>Supervisor harus mengonfirmasi: {action}</translation>
    </message>
    <message>
        <source>Supervisor</source>
        <translation>Supervisor</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>Kata sandi</translation>
    </message>
    <message>
        <source>Confirm</source>
        <translation>Konfirmasi</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Batal</translation>
    </message>
    <message>
        <source>Cards issued by kecamatan</source>
        <translation>Kartu diterbitkan per kecamatan</translation>
    </message>
    <message>
        <source>Funds loaded by programme (Rp)</source>
        <translation>Dana diisi per program (Rp)</translation>
    </message>
    <message>
        <source>Open reviews</source>
        <translation>Peninjauan terbuka</translation>
    </message>
    <message>
        <source>{issued} of {target} households have a card ({pct})</source>
        <translation>{issued} dari {target} rumah tangga sudah punya kartu ({pct})</translation>
    </message>
    <message>
        <source>blank</source>
        <translation>kosong</translation>
    </message>
    <message>
        <source>half-made</source>
        <translation>setengah jadi</translation>
    </message>
    <message>
        <source>issued</source>
        <translation>diterbitkan</translation>
    </message>
    <message>
        <source>blocked</source>
        <translation>diblokir</translation>
    </message>
    <message>
        <source>terminated</source>
        <translation>dimatikan</translation>
    </message>
    <message>
        <source>active</source>
        <translation>aktif</translation>
    </message>
    <message>
        <source>blocked (lost)</source>
        <translation>diblokir (hilang)</translation>
    </message>
    <message>
        <source>replaced</source>
        <translation>diganti</translation>
    </message>
    <message>
        <source>returned</source>
        <translation>dikembalikan</translation>
    </message>
    <message>
        <source>eligible</source>
        <translation>berhak</translation>
    </message>
    <message>
        <source>removed (duplicate)</source>
        <translation>dihapus (ganda)</translation>
    </message>
    <message>
        <source>rejected</source>
        <translation>ditolak</translation>
    </message>
    <message>
        <source>not in the latest export</source>
        <translation>tidak ada di ekspor terbaru</translation>
    </message>
    <message>
        <source>Households with a card</source>
        <translation>Rumah tangga yang sudah punya kartu</translation>
    </message>
    <message>
        <source>Cards issued by kelurahan (top 10)</source>
        <translation>Kartu diterbitkan per kelurahan (10 teratas)</translation>
    </message>
    <message>
        <source>with card</source>
        <translation>sudah punya kartu</translation>
    </message>
    <message>
        <source>still waiting</source>
        <translation>masih menunggu</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>Muat ulang</translation>
    </message>
    <message>
        <source>none yet</source>
        <translation>belum ada</translation>
    </message>
    <message>
        <source>No card on the reader. Put the card on the reader and try again.</source>
        <translation>Tidak ada kartu di pembaca. Letakkan kartu di pembaca lalu coba lagi.</translation>
    </message>
    <message>
        <source>The card was taken off the reader. Put it back and try again.</source>
        <translation>Kartu diangkat dari pembaca. Letakkan kembali lalu coba lagi.</translation>
    </message>
    <message>
        <source>The card was taken off while it was being written. Put it back: you will be asked to resume or wipe it.</source>
        <translation>Kartu diangkat saat sedang ditulis. Letakkan kembali: Anda akan diminta melanjutkan atau menghapusnya.</translation>
    </message>
    <message>
        <source>The card was taken off while it was being checked. Put it back and try again.</source>
        <translation>Kartu diangkat saat sedang diperiksa. Letakkan kembali lalu coba lagi.</translation>
    </message>
    <message>
        <source>Card {serial} is half-made.</source>
        <translation>Kartu {serial} setengah jadi.</translation>
    </message>
    <message>
        <source>Card {serial} was wiped back to blank. Present it again to issue it.</source>
        <translation>Kartu {serial} sudah dikembalikan ke kosong. Tempelkan lagi untuk diterbitkan.</translation>
    </message>
    <message>
        <source>Card {serial} is already used ({state}); it cannot be issued. Take a new blank card.</source>
        <translation>Kartu {serial} sudah terpakai ({state}); tidak bisa diterbitkan. Ambil kartu kosong baru.</translation>
    </message>
    <message>
        <source>This is not an SSN card (a card of another system). Take a blank SSN card.</source>
        <translation>Ini bukan kartu SSN (kartu sistem lain). Ambil kartu SSN kosong.</translation>
    </message>
    <message>
        <source>The card could not be written: {why}</source>
        <translation>Kartu tidak bisa ditulis: {why}</translation>
    </message>
    <message>
        <source>The card did not pass the check after writing: {why}. Do not hand it over.</source>
        <translation>Kartu tidak lolos pemeriksaan setelah ditulis: {why}. Jangan diserahkan.</translation>
    </message>
    <message>
        <source>Printing failed ({why}). The card is NOT recorded as handed over. Fix the printer and print again.</source>
        <translation>Pencetakan gagal ({why}). Kartu TIDAK dicatat sebagai diserahkan. Perbaiki printer lalu cetak ulang.</translation>
    </message>
    <message>
        <source>Card {serial} has not been printed yet.</source>
        <translation>Kartu {serial} belum dicetak.</translation>
    </message>
    <message>
        <source>Household {kk} is being issued right now at {desk} by {clerk}.</source>
        <translation>Rumah tangga {kk} sedang diterbitkan kartunya di {desk} oleh {clerk}.</translation>
    </message>
    <message>
        <source>Household {kk} has an open review. Decide it on the Reviews tab first.</source>
        <translation>Rumah tangga {kk} masih dalam peninjauan. Putuskan dulu di tab Peninjauan.</translation>
    </message>
    <message>
        <source>Household {kk} already has an active card ({serial}).</source>
        <translation>Rumah tangga {kk} sudah punya kartu aktif ({serial}).</translation>
    </message>
    <message>
        <source>Household {kk} has no eligible member.</source>
        <translation>Rumah tangga {kk} tidak punya anggota yang berhak.</translation>
    </message>
    <message>
        <source>Wrong supervisor name or password. Nothing was done.</source>
        <translation>Nama atau kata sandi supervisor salah. Tidak ada yang dilakukan.</translation>
    </message>
    <message>
        <source>A supervisor cannot confirm their own action. Ask another supervisor.</source>
        <translation>Supervisor tidak boleh mengonfirmasi tindakannya sendiri. Minta supervisor lain.</translation>
    </message>
    <message>
        <source>Not confirmed. Nothing was done.</source>
        <translation>Tidak dikonfirmasi. Tidak ada yang dilakukan.</translation>
    </message>
    <message>
        <source>Wrong name or password.</source>
        <translation>Nama atau kata sandi salah.</translation>
    </message>
    <message>
        <source>The password must have at least 8 characters.</source>
        <translation>Kata sandi minimal 8 karakter.</translation>
    </message>
    <message>
        <source>Log in first.</source>
        <translation>Masuk dulu.</translation>
    </message>
    <message>
        <source>Choose an agency from the list.</source>
        <translation>Pilih instansi dari daftar.</translation>
    </message>
    <message>
        <source>Enter an amount of at least Rp 1.</source>
        <translation>Masukkan jumlah minimal Rp 1.</translation>
    </message>
    <message>
        <source>The card is not genuine: {why}</source>
        <translation>Kartu tidak asli: {why}</translation>
    </message>
    <message>
        <source>Card {serial} is not active in the register.</source>
        <translation>Kartu {serial} tidak aktif di register.</translation>
    </message>
    <message>
        <source>The card has no purse for this programme.</source>
        <translation>Kartu tidak punya dompet untuk program ini.</translation>
    </message>
    <message>
        <source>The load was refused: {why}</source>
        <translation>Pengisian ditolak: {why}</translation>
    </message>
    <message>
        <source>The card left during the load; it is not known yet whether it was credited. Put it back and read it.</source>
        <translation>Kartu diangkat saat pengisian; belum diketahui apakah dana masuk. Letakkan kembali dan baca kartunya.</translation>
    </message>
    <message>
        <source>Card {serial} is not in the register.</source>
        <translation>Kartu {serial} tidak ada di register.</translation>
    </message>
    <message>
        <source>Card {serial} must be blocked before it is replaced.</source>
        <translation>Kartu {serial} harus diblokir dulu sebelum diganti.</translation>
    </message>
    <message>
        <source>The PIN is blocked. Use Unblock PIN (a supervisor must confirm).</source>
        <translation>PIN terblokir. Gunakan Buka blokir PIN (supervisor harus mengonfirmasi).</translation>
    </message>
    <message>
        <source>Wrong PIN: {left} tries left.</source>
        <translation>PIN salah: sisa {left} percobaan.</translation>
    </message>
    <message>
        <source>The card refused the new PIN: {why}</source>
        <translation>Kartu menolak PIN baru: {why}</translation>
    </message>
    <message>
        <source>That card number's check value is wrong.</source>
        <translation>Nilai pemeriksa nomor kartu itu salah.</translation>
    </message>
    <message>
        <source>Unexpected error (tell the technician): {why}</source>
        <translation>Kesalahan tak terduga (beri tahu teknisi): {why}</translation>
    </message>
    <message>
        <source>No card reader found.</source>
        <translation>Pembaca kartu tidak ditemukan.</translation>
    </message>
    <message>
        <source>Select a row first.</source>
        <translation>Pilih baris dulu.</translation>
    </message>
    <message>
        <source>Move the rest of the balance</source>
        <translation>Pindahkan sisa saldo</translation>
    </message>
    <message>
        <source>{amount} moved from lost card {lost} to this card.</source>
        <translation>{amount} dipindahkan dari kartu hilang {lost} ke kartu ini.</translation>
    </message>
    <message>
        <source>{amount} stays on the lost card's record until {until} (the lost card could still spend it offline); then put the new card on the reader and press “Move the rest of the balance”.</source>
        <translation>{amount} tetap tercatat pada kartu hilang sampai {until} (kartu hilang masih bisa memakainya offline); setelah itu letakkan kartu baru di pembaca dan tekan “Pindahkan sisa saldo”.</translation>
    </message>
    <message>
        <source>Card {serial} is not the active card of the household that lost card {lost}. Put the replacement card on the reader. Nothing was moved.</source>
        <translation>Kartu {serial} bukan kartu aktif keluarga pemilik kartu hilang {lost}. Letakkan kartu pengganti di pembaca. Tidak ada yang dipindahkan.</translation>
    </message>
    <message>
        <source>{amount} is held back until {until}: the lost card could still spend it offline. Nothing was moved.</source>
        <translation>{amount} ditahan sampai {until}: kartu hilang masih bisa memakainya offline. Tidak ada yang dipindahkan.</translation>
    </message>
    <message>
        <source>Nothing is left to move from lost card {serial}.</source>
        <translation>Tidak ada sisa saldo untuk dipindahkan dari kartu hilang {serial}.</translation>
    </message>
</context>
</TS>
