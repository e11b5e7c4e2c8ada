<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="id_ID">
<context>
    <name>Till</name>
    <message>
        <location filename="../texts.py" line="16" />
        <source>PAID</source>
        <translation>LUNAS</translation>
    </message>
    <message>
        <location filename="../texts.py" line="17" />
        <source>REFUNDED</source>
        <translation>DIKEMBALIKAN</translation>
    </message>
    <message>
        <location filename="../texts.py" line="18" />
        <source>NOT CHARGED</source>
        <translation>TIDAK DITAGIH</translation>
    </message>
    <message>
        <location filename="../texts.py" line="19" />
        <source>TAP THE CARD AGAIN</source>
        <translation>TEMPELKAN KARTU LAGI</translation>
    </message>
    <message>
        <location filename="../texts.py" line="23" />
        <source>The card reader is not plugged in.</source>
        <translation>Alat pembaca kartu tidak terpasang.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="24" />
        <source>The card was lifted too soon. Nothing was charged: tap the card again.</source>
        <translation>Kartu diangkat terlalu cepat. Tidak ada yang ditagih: tempelkan kartu lagi.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="27" />
        <source>This is not a Samarinda SSN card. Nothing was charged.</source>
        <translation>Ini bukan kartu SSN Samarinda. Tidak ada yang ditagih.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="30" />
        <source>This card is blocked (reported lost, stolen or revoked). Do not accept it: the customer should go to the city office.</source>
        <translation>Kartu ini diblokir (dilaporkan hilang, dicuri, atau dicabut). Jangan diterima: pemilik kartu perlu datang ke kantor pemerintah kota.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="35" />
        <source>This card is on the blocked-card list. Do not accept it.</source>
        <translation>Kartu ini ada di daftar kartu terblokir. Jangan diterima.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="38" />
        <source>This card is not active yet.</source>
        <translation>Kartu ini belum aktif.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="39" />
        <source>This card holds no programme funds.</source>
        <translation>Kartu ini tidak berisi dana program.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="40" />
        <source>The card's list of programmes did not match the card itself. Nothing was charged: tap the card again.</source>
        <translation>Daftar program kartu tidak cocok dengan isi kartu. Tidak ada yang ditagih: tempelkan kartu lagi.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="105" />
        <source>The card cannot pay this amount.</source>
        <translation>Kartu tidak dapat membayar jumlah ini.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="40" />
        <source>The %1 funds on this card have expired.</source>
        <translation>Dana %1 di kartu ini sudah kedaluwarsa.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="41" />
        <source>Balance too low. The card can pay at most %1.</source>
        <translation>Saldo tidak cukup. Kartu ini hanya bisa membayar paling banyak %1.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="44" />
        <source>Above the limit for one payment. At most %1 per payment.</source>
        <translation>Melebihi batas sekali bayar. Paling banyak %1 per pembayaran.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="47" />
        <source>The card's offline limit is nearly used: at most %1 now. The card must be synchronised at a city office.</source>
        <translation>Batas offline kartu hampir habis: sekarang paling banyak %1. Kartu perlu disinkronkan di kantor pemerintah kota.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="52" />
        <source>The SAM (the shop's security card) is missing. Put it in its reader.</source>
        <translation>SAM (kartu keamanan toko) tidak ada. Pasang SAM di alat pembacanya.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="55" />
        <source>The SAM's limit is reached: export the settlement batch and settle first.</source>
        <translation>Batas SAM sudah tercapai: ekspor setoran dan lakukan penyelesaian dulu.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="58" />
        <source>The SAM refused this payment.</source>
        <translation>SAM menolak pembayaran ini.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="59" />
        <source>This card is not genuine. Do not accept it.</source>
        <translation>Kartu ini tidak asli. Jangan diterima.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="60" />
        <source>An earlier interrupted payment of this card cannot be settled here. Note the card number and call the back office.</source>
        <translation>Pembayaran kartu ini yang terputus sebelumnya tidak bisa diselesaikan di sini. Catat nomor kartu dan hubungi kantor pusat.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="65" />
        <source>The laptop's date and time are wrong. Set the clock before selling.</source>
        <translation>Tanggal dan jam laptop salah. Atur jam dulu sebelum berjualan.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="68" />
        <source>This till has no sale of this card to undo.</source>
        <translation>Kasir ini tidak punya penjualan dengan kartu ini untuk dibatalkan.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="71" />
        <source>Only the card's last payment, made at this till, can be undone.</source>
        <translation>Hanya pembayaran terakhir kartu, yang dibuat di kasir ini, yang bisa dibatalkan.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="74" />
        <source>The payment did not go through.</source>
        <translation>Pembayaran tidak berhasil.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="77" />
        <source>The card was lifted before the payment finished. Tap the same card again: the till will tell whether it was paid. It never charges twice.</source>
        <translation>Kartu diangkat sebelum pembayaran selesai. Tempelkan kartu yang sama lagi: kasir akan memberi tahu apakah sudah dibayar. Tidak pernah ditagih dua kali.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="82" />
        <source>The interrupted payment of %1 went through. Do not charge again.</source>
        <translation>Pembayaran %1 yang terputus tadi sudah berhasil. Jangan tagih lagi.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="85" />
        <source>The interrupted payment of %1 was not charged.</source>
        <translation>Pembayaran %1 yang terputus tadi tidak ditagih.</translation>
    </message>
    <message>
        <location filename="../texts.py" line="88" />
        <source>Referred to the back office: the earlier interrupted payment of %1 will be checked (it may have gone through).</source>
        <translation>Dirujuk ke kantor pusat: pembayaran %1 yang terputus sebelumnya akan diperiksa (mungkin sudah berhasil).</translation>
    </message>
</context>
<context>
    <name>TillWindow</name>
    <message>
        <location filename="../app.py" line="322" />
        <source>SSN card till</source>
        <translation>Kasir kartu SSN</translation>
    </message>
    <message>
        <location filename="../app.py" line="323" />
        <source>Clear</source>
        <translation>Hapus</translation>
    </message>
    <message>
        <location filename="../app.py" line="324" />
        <source>Charge</source>
        <translation>Bayar</translation>
    </message>
    <message>
        <location filename="../app.py" line="325" />
        <source>Type the amount, then press Charge.</source>
        <translation>Ketik jumlahnya, lalu tekan Bayar.</translation>
    </message>
    <message>
        <location filename="../app.py" line="326" />
        <source>Tap the card</source>
        <translation>Tempelkan kartu</translation>
    </message>
    <message>
        <location filename="../app.py" line="327" />
        <location filename="../app.py" line="328" />
        <source>Cancel</source>
        <translation>Batal</translation>
    </message>
    <message>
        <location filename="../app.py" line="329" />
        <location filename="../app.py" line="482" />
        <source>New sale</source>
        <translation>Penjualan baru</translation>
    </message>
    <message>
        <location filename="../app.py" line="330" />
        <source>Export settlement batch</source>
        <translation>Ekspor setoran</translation>
    </message>
    <message>
        <location filename="../app.py" line="331" />
        <source>Import blocked-card list</source>
        <translation>Impor daftar kartu terblokir</translation>
    </message>
    <message>
        <location filename="../app.py" line="408" />
        <source>Undo %1</source>
        <translation>Batalkan %1</translation>
    </message>
    <message>
        <location filename="../app.py" line="414" />
        <source>The card reader is not plugged in. Plug it in.</source>
        <translation>Alat pembaca kartu tidak terpasang. Colokkan alatnya.</translation>
    </message>
    <message>
        <location filename="../app.py" line="417" />
        <source>Reading the card... keep it on the reader.</source>
        <translation>Membaca kartu... tahan kartu di alat pembaca.</translation>
    </message>
    <message>
        <location filename="../app.py" line="420" />
        <source>Hold the card flat on the reader until the till answers.</source>
        <translation>Tempelkan kartu rata di alat pembaca sampai kasir menjawab.</translation>
    </message>
    <message>
        <location filename="../app.py" line="426" />
        <source>Pay %1 from which programme?</source>
        <translation>Bayar %1 dari program mana?</translation>
    </message>
    <message>
        <location filename="../app.py" line="432" />
        <source>%1 - balance %2</source>
        <translation>%1 - saldo %2</translation>
    </message>
    <message>
        <location filename="../app.py" line="449" />
        <source>expired</source>
        <translation>kedaluwarsa</translation>
    </message>
    <message>
        <location filename="../app.py" line="451" />
        <source>empty</source>
        <translation>kosong</translation>
    </message>
    <message>
        <location filename="../app.py" line="452" />
        <source>at most %1</source>
        <translation>paling banyak %1</translation>
    </message>
    <message>
        <location filename="../app.py" line="472" />
        <source>New %1 balance: %2</source>
        <translation>Saldo %1 sekarang: %2</translation>
    </message>
    <message>
        <location filename="../app.py" line="474" />
        <source>New balance: %2</source>
        <translation>Saldo sekarang: %2</translation>
    </message>
    <message>
        <location filename="../app.py" line="480" />
        <source>Tap again</source>
        <translation>Tempelkan lagi</translation>
    </message>
    <message>
        <location filename="../app.py" line="507" />
        <source>Reader: looking...</source>
        <translation>Pembaca: mencari...</translation>
    </message>
    <message>
        <location filename="../app.py" line="514" />
        <source>Reader: not plugged in</source>
        <translation>Pembaca: tidak terpasang</translation>
    </message>
    <message>
        <location filename="../app.py" line="516" />
        <source>Reader: %1</source>
        <translation>Pembaca: %1</translation>
    </message>
    <message>
        <location filename="../app.py" line="518" />
        <source>SAM: card ready</source>
        <translation>SAM: kartu siap</translation>
    </message>
    <message>
        <location filename="../app.py" line="520" />
        <source>SAM: SOFTWARE (pilot only)</source>
        <translation>SAM: PERANGKAT LUNAK (uji coba)</translation>
    </message>
    <message>
        <location filename="../app.py" line="522" />
        <source>SAM: missing</source>
        <translation>SAM: tidak ada</translation>
    </message>
    <message>
        <location filename="../app.py" line="526" />
        <source>SOFTWARE SAM: the debit key is on this laptop. For pilots and tests only, never in a real shop.</source>
        <translation>SAM PERANGKAT LUNAK: kunci debit ada di laptop ini. Hanya untuk uji coba, jangan dipakai di toko sungguhan.</translation>
    </message>
    <message>
        <location filename="../app.py" line="532" />
        <source>Blocked-card list: none</source>
        <translation>Daftar blokir: belum ada</translation>
    </message>
    <message>
        <location filename="../app.py" line="535" />
        <source>Blocked-card list: OUT OF DATE (%1 days)</source>
        <translation>Daftar blokir: KEDALUWARSA (%1 hari)</translation>
    </message>
    <message>
        <location filename="../app.py" line="540" />
        <source>Blocked-card list: %1 days old</source>
        <translation>Daftar blokir: umur %1 hari</translation>
    </message>
    <message>
        <location filename="../app.py" line="546" />
        <source>Clock: %1 WITA</source>
        <translation>Jam: %1 WITA</translation>
    </message>
    <message>
        <location filename="../app.py" line="548" />
        <source>Clock WRONG: %1</source>
        <translation>Jam SALAH: %1</translation>
    </message>
    <message>
        <location filename="../app.py" line="559" />
        <source>Today</source>
        <translation>Hari ini</translation>
    </message>
    <message>
        <location filename="../app.py" line="562" />
        <source>Today: %1 transactions, total %2</source>
        <translation>Hari ini: %1 transaksi, total %2</translation>
    </message>
    <message>
        <location filename="../app.py" line="568" />
        <source>sale</source>
        <translation>jual</translation>
    </message>
    <message>
        <location filename="../app.py" line="568" />
        <source>undo</source>
        <translation>batal</translation>
    </message>
    <message>
        <location filename="../app.py" line="578" />
        <source>Undo last sale</source>
        <translation>Batalkan penjualan terakhir</translation>
    </message>
    <message>
        <location filename="../app.py" line="582" />
        <source>Undo last sale (%1)</source>
        <translation>Batalkan penjualan terakhir (%1)</translation>
    </message>
    <message>
        <source>Where to save the settlement batch</source>
        <translation>Tempat menyimpan setoran</translation>
    </message>
    <message>
        <location filename="../app.py" line="601" />
        <source>Signed blocked-card list</source>
        <translation>Daftar kartu terblokir (bertanda tangan)</translation>
    </message>
    <message>
        <location filename="../app.py" line="610" />
        <source>It did not work: %1</source>
        <translation>Tidak berhasil: %1</translation>
    </message>
    <message>
        <location filename="../app.py" line="613" />
        <source>Batch %1 saved: %2 receipts, net %3.
%4</source>
        <translation>Setoran %1 disimpan: %2 struk, bersih %3.
%4</translation>
    </message>
    <message>
        <location filename="../app.py" line="620" />
        <source>Blocked-card list imported.</source>
        <translation>Daftar kartu terblokir sudah diimpor.</translation>
    </message>
</context>
</TS>