"""Pinned SHA-256 checksums and sizes of the files behind :mod:`metamat.data.sources.origins`.

``RAW_SHA256``: original files, keyed by their path in the CrabNet repository / ``crabnet==2.0.8`` wheel
(``crabnet/data/...``), computed from the wheel (sha256 4901565a...054a). SOURCES.md states that the wheel's
val/test files are byte-identical to GitHub's; the converted train+val+test tables equal the shared copies
line for line, so the train files are too. ``matbench/expt_gap.csv`` is pinned as the shared copy holds it
(GitHub's version; the wheel's writes ``0`` where GitHub writes ``0.0``).

``CONTENT_SHA256``: the converted file, uncompressed, keyed by dataset name. For CrabNet tables this is the
output of :func:`~metamat.data.sources.convert.merge_splits` on the wheel files, which equals the shared
copy byte for byte except in ``mp_e_hull`` and ``mp_mu_b``: there the shared copy lost the formula ``NaN``
(sodium nitride, data row 14748) to pandas' missing-value parsing; the conversion keeps it. Roost tables:
the shared copy (``rename_header`` of the original; sizes and first/last rows checked against the originals).

``SIZE``: bytes to download per dataset (uncompressed originals).
"""

from __future__ import annotations

RAW_SHA256: dict[str, str] = {
    'benchmark_data/CritExam__Ed/train.csv': 'b8de276563588969f9b8a9f7fb59059e2b445da22f4bc84beed5d4b8d3b16934',
    'benchmark_data/CritExam__Ed/val.csv': 'be508d700c294fffa382887f37dbc1aded4ad2a5f5ab526bad60d987f5a6d7f0',
    'benchmark_data/CritExam__Ed/test.csv': 'ebe21e71b66eb534c9f53c4e682c3661ed402204805e7a74bf17d03639a978ab',
    'benchmark_data/CritExam__Ef/train.csv': '717892455f5474fb98d952b2824b09e2abae21d4893eebc5f0e16b5042a9f168',
    'benchmark_data/CritExam__Ef/val.csv': 'f641c56947685fad49aaf13c31b098593a708d8aff19cf271b2239251d9d6a3a',
    'benchmark_data/CritExam__Ef/test.csv': '92052ffc5bad988371946b1c98a605addf88fd2894e2319ed1a39653cecb0f43',
    'benchmark_data/OQMD_Bandgap/train.csv': '8611a9f1f76ad06d846890d2234e6b37909abd941c156cdc339447bbcce3ada7',
    'benchmark_data/OQMD_Bandgap/val.csv': '7838750eb3b5b09ec296b0fbf194271f6588b4bcd4653e392aba6df04c645002',
    'benchmark_data/OQMD_Bandgap/test.csv': '59206d9cf13387a6cbf5a155f5b350043aee2f190663bb9baf97a6ee85e63d55',
    'benchmark_data/OQMD_Energy_per_atom/train.csv': 'fb10be65788bd6665d2418ce87d49834f1d3b65635a488a96cdc32667ea32d50',
    'benchmark_data/OQMD_Energy_per_atom/val.csv': 'd8f3478ebd3463447e3dd985c1e00529dbb5436d28cbf4af29e32a5169c71046',
    'benchmark_data/OQMD_Energy_per_atom/test.csv': 'abb63558c7df1fe4feba0c3b51a1da2d02347760601ef0bf4085d7df30bcd487',
    'benchmark_data/OQMD_Formation_Enthalpy/train.csv':
        '0b69cfcbffc31145790e48af13efed4f191e5687e01a19cda5ed7cee43deaf6d',
    'benchmark_data/OQMD_Formation_Enthalpy/val.csv':
        'af138c2bfed3a8eb8fc2e202690fae94190e0e64258625ce1612df45298193d4',
    'benchmark_data/OQMD_Formation_Enthalpy/test.csv':
        '773275807866c98cef1d36887e2f33cf3a3bb0428fc8faf6912cdcff19961172',
    'benchmark_data/OQMD_Volume_per_atom/train.csv': 'd4e924912dd8b4bcf123ddf7822e50c47738028c2fc76024555b130c61d9d848',
    'benchmark_data/OQMD_Volume_per_atom/val.csv': 'ca3c843b42a8628d330c3bed198fce1de012ce544d1f5bf4c6a93ef7e9e0224d',
    'benchmark_data/OQMD_Volume_per_atom/test.csv': '5b20ae50b3d28408ab87d153012b58a5eb4fb926392c836a094eac47c6dc2cef',
    'benchmark_data/aflow__Egap/train.csv': '54cfdde0f9dc313acf2ffb22f49c9861d8d0e1fc5ee3938b8810785db65c1c17',
    'benchmark_data/aflow__Egap/val.csv': '798bd5b2d16cca829be8873a483872910de4c948a1bc55ae89c70efb9be0c545',
    'benchmark_data/aflow__Egap/test.csv': 'd2096c4b87dcc1f13407532f048552544cd389d49486770b9b065dffd5cc92ef',
    'benchmark_data/aflow__ael_bulk_modulus_vrh/train.csv':
        'b9b371e3fcd47d38dc94e568515980e8b2ed83ef077f4339ba1bbccbef37a62b',
    'benchmark_data/aflow__ael_bulk_modulus_vrh/val.csv':
        'cc13020813fdc2a1a14c1e040faca6bcb034d6be2e08440221b9cbaa1cc932eb',
    'benchmark_data/aflow__ael_bulk_modulus_vrh/test.csv':
        '2a5b1c547e09f9b7e095802f27e4993d243aa1925b4e6fb991aec31f14c3cbf9',
    'benchmark_data/aflow__ael_debye_temperature/train.csv':
        'c01509a7f4c82665e0f0dc6780372189c628ee91adf6a0692f07010c0690a53f',
    'benchmark_data/aflow__ael_debye_temperature/val.csv':
        'a5d6ae080a68f79ad0c0958da385ef06b5bd523c1c2df7a4e58fa3afe430aa1e',
    'benchmark_data/aflow__ael_debye_temperature/test.csv':
        'c244bc1615b00940f54847364a24633d7dc82426ceb9974c34ec47ac57884c41',
    'benchmark_data/aflow__ael_shear_modulus_vrh/train.csv':
        'ca0017fafc2558e8b9ca9ef11089755e7492d90797a8d38df1530b6d2ddaf1f3',
    'benchmark_data/aflow__ael_shear_modulus_vrh/val.csv':
        '7b58dc465d09e1340b20a49b1c1b994d47eb8349904eb2d7487c465c3f5152b3',
    'benchmark_data/aflow__ael_shear_modulus_vrh/test.csv':
        '59b31cf673943f51cd272ab1f6d5f4574a178ef93bed6cf408632ad87b9de4f4',
    'benchmark_data/aflow__agl_thermal_conductivity_300K/train.csv':
        '88e5ccaf4e16ad52c2bc5eff41f19bb97222cf34dc447278fd5a2696bed428a6',
    'benchmark_data/aflow__agl_thermal_conductivity_300K/val.csv':
        'f09e073ee63bc4c913d6b5d5c44a324385f0ebd84324c9cb5f789ce62e63f36e',
    'benchmark_data/aflow__agl_thermal_conductivity_300K/test.csv':
        'b3884dcde4ea164d061ffb4b22172d68cedc0777f0dc3ada81d1f81e3a9b4cde',
    'benchmark_data/aflow__agl_thermal_expansion_300K/train.csv':
        'bf937cad2af75702f16a82728fd52691a67e584b530f5bb703e762d1d92b11fe',
    'benchmark_data/aflow__agl_thermal_expansion_300K/val.csv':
        '026a3632b4f6fb247d2efc40d19c7ae79f092363ca221a4cec057e390cd88fdf',
    'benchmark_data/aflow__agl_thermal_expansion_300K/test.csv':
        '06eb26c729554f9e22046b8b818bb085a471c851b2147acb3049a99d32c06c8f',
    'benchmark_data/aflow__energy_atom/train.csv': '5ff635bff649b9a68e5cf572125bf4f527751fd49b98d680fb1182a1ca275ad5',
    'benchmark_data/aflow__energy_atom/val.csv': 'ce5c8f7b3175c9c370891c5e29bdf1e0c5e56c103f391f0a538c629ef319b81a',
    'benchmark_data/aflow__energy_atom/test.csv': 'f393d89ac7a506b2415645b9ee4e69e2d15af1469ece679e945f7098d51a6e99',
    'benchmark_data/mp_bulk_modulus/train.csv': '00d2d02073ca945d357f834eb5a2d7361e8bd8b86f14f8fed2321db585baf731',
    'benchmark_data/mp_bulk_modulus/val.csv': 'fd0702d7e1b32f109c8dbc89cbbce6f541fe6bad0fb45cc86d2a35ab4e994906',
    'benchmark_data/mp_bulk_modulus/test.csv': 'f205ffa36b5ce2eaf1f066e7b6d2a6931f7bcd233697456dbcbae4c79f911a44',
    'benchmark_data/mp_e_hull/train.csv': 'b3badcdc96484d4ae7c622bf098e75db628a23e89c48b44b0b0af8084e9bb7ae',
    'benchmark_data/mp_e_hull/val.csv': 'fbeba63de5701a2e300c52f5192673cbd7737e3b762f2d9a2d2056b982d7fe41',
    'benchmark_data/mp_e_hull/test.csv': '236e6fe8f6406ef28a6805d26e508be0b4d45da1d22aebe779c93d3291c599a0',
    'benchmark_data/mp_elastic_anisotropy/train.csv':
        'd9d33f37a8d88835822884bd060581d6a68dd98a59627e05a0f9bce5bae686fe',
    'benchmark_data/mp_elastic_anisotropy/val.csv': '94f9db600852ec3bf6a2bef0efcc59a3ae5fe0cf10203f9edfc43f340465662c',
    'benchmark_data/mp_elastic_anisotropy/test.csv': '4fdef93e8b05bb51734835bd73721b3f389544bcbe96978bb6ea5ed1baad9af8',
    'benchmark_data/mp_mu_b/train.csv': '5489be409844020513f996e432ee3b3078d002b4b6623c5c78c274ef7666c600',
    'benchmark_data/mp_mu_b/val.csv': 'b7e7d2cb9003124a35e98a0681f38fa2a00d282cd2a526b4fab361de45799757',
    'benchmark_data/mp_mu_b/test.csv': 'd1e6eb185cf04f0c28027ed1cf9f45f28dde034b437894ba4085a6dcad84602d',
    'benchmark_data/mp_shear_modulus/train.csv': '22f18b123f6d4c1b180c96ee56a0618c35f868e1cb9f9bd758180330b5e95cdf',
    'benchmark_data/mp_shear_modulus/val.csv': '094b720096cc4d451535d2a227c8186904069d4d7566cb82aebc9c3d777c8036',
    'benchmark_data/mp_shear_modulus/test.csv': '7ee01a44644916c3df8d1e42212fc4d9be5028b67d51754becb477e72c048317',
    'matbench/castelli.csv': '2aba6ff55450b269056de0e07362bd279d32abc8e4af04ca0100ecbb3e62bb97',
    'matbench/dielectric.csv': '6320d3da4c0f68e9248e26c058bf047b71f43ec687a6db6faf4f7bc4f4f21c9e',
    'matbench/elasticity_log10(G_VRH).csv': '6eda504f98a3b98308bb4f1353810f2703475daa85540b15aebe1fedf313304a',
    'matbench/elasticity_log10(K_VRH).csv': 'b4e2620ca797b9eca83a6633d4b94dc3ae047bba3f0eacd5cdb446a75d07d087',
    'matbench/expt_gap.csv': '984d0e0d770eb586cbd5457a9b90d2380e995e41bd020736bf869f257d93495b',
    'matbench/expt_is_metal.csv': '5b0828561a6c925d96cd0215f78eb1e8d1ca7c05e9e12fcdbdfbcaeaddd73f13',
    'matbench/glass.csv': '2c76eaaad9c1d92959e99a8a5c77bf1dce605279ee83af0ba3ed18833dcf9a33',
    'matbench/jdft2d.csv': '96e89a27ba23662de1fed19faaf577db45fd1a3b160d149b556e9d6a348a3056',
    'matbench/mp_e_form.csv': '90e895635c96447c5be4e9070d26f26e1b4d17925102a6597ae3c4d79c32555b',
    'matbench/mp_gap.csv': '4084e584467e6f81ec8bf12c438eeb2c049ae39e11401bae694ef6a9983b9d9f',
    'matbench/mp_is_metal.csv': '080afc38363fd7e0872fb04ae93a73fdecd0329408d007e8811ccd6e96b7e79a',
    'matbench/phonons.csv': '09108e3cbfead13edc0c18e66ca015cef28f7431fcc822038bc7b5ecc5d6222b',
    'matbench/steels_yield.csv': 'a4232b4d83185f8c65c02dca6a013b85e220227d212e703d12586a4b5b9e9cf0',
}

CONTENT_SHA256: dict[str, str] = {
    'CritExam__Ed': '07aed876ab63b78190abe489be573541019010d0cd9a2992b1943d1f4a02777d',
    'CritExam__Ef': '299e934c717e9fae4a7563195098f06a71ca8eddfb268afe0e23d012e4fee488',
    'OQMD_Bandgap': '7080aeb17da56c4678c66ab92d4695ad4ff4d263ffd8b23d06560ba5f154aa99',
    'OQMD_Energy_per_atom': '20dd5765f0d2a155c40d140132bf2a195b314ee9412fde24854d611267249515',
    'OQMD_Formation_Enthalpy': '29581c3044409144d19893468e8995522b53c3baf883f6cc54e98d7dc1f31e5c',
    'OQMD_Volume_per_atom': '58233101d6435df5aedfba450f2a91eec5cfce3df3f5c1c3b81fd9d6c43edb7e',
    'aflow__Egap': 'a21ccb09226159ab57b5cc5bf81b3536f80c69f7288434bd603234a261c8be0a',
    'aflow__ael_bulk_modulus_vrh': 'b875912d4f2effce301af48437fc2a19164fc63a319fc4cc371801f757695c05',
    'aflow__ael_debye_temperature': 'af639ccd639cc26e0da370f84093e444cab4d5e0406e371d9ea7df208b1012eb',
    'aflow__ael_shear_modulus_vrh': 'a0e69567af54a25dd26792b038cc2ef3634ca3cbd5c1b86636ae76b140f38f57',
    'aflow__agl_thermal_conductivity_300K': '5378afd7124c7ed3563109c45d6280984473caa00777c0ea868356a4b44d2cb4',
    'aflow__agl_thermal_expansion_300K': '807419ba6cba20f7a4f7f421b6775c7c57e5c3b144274d31870c217c10474865',
    'aflow__energy_atom': '14bda71be54df6ea82d68c2bd5fda97a2655dbad80f04e019da4117cf819633f',
    'mp_bulk_modulus': 'b6fc79d873281ee47d754b9f711a51d22cbba6375c21f8d671eb58c06a440535',
    'mp_e_hull': '18f140fd2336d08f3241e14b7d2c507d7938ee9d80ce24ef766284802926dd47',
    'mp_elastic_anisotropy': '7e5c7b3425d2f604f7d5a922058f9c31b62ed87dad363c63d1876de2c8eba306',
    'mp_mu_b': '654905648b99f7e17e0ee9e41feb605cb49901d6dca5c1073dc7079f2369ebfa',
    'mp_shear_modulus': '473be9616c72a3aee48b1aa0d478238c11144caef863a8000bfb72eaf2fc0cd7',
    'matbench_perovskites': '2aba6ff55450b269056de0e07362bd279d32abc8e4af04ca0100ecbb3e62bb97',
    'matbench_dielectric': '6320d3da4c0f68e9248e26c058bf047b71f43ec687a6db6faf4f7bc4f4f21c9e',
    'matbench_log_gvrh': '6eda504f98a3b98308bb4f1353810f2703475daa85540b15aebe1fedf313304a',
    'matbench_log_kvrh': 'b4e2620ca797b9eca83a6633d4b94dc3ae047bba3f0eacd5cdb446a75d07d087',
    'matbench_expt_gap': '984d0e0d770eb586cbd5457a9b90d2380e995e41bd020736bf869f257d93495b',
    'matbench_expt_is_metal': '5b0828561a6c925d96cd0215f78eb1e8d1ca7c05e9e12fcdbdfbcaeaddd73f13',
    'matbench_glass': '2c76eaaad9c1d92959e99a8a5c77bf1dce605279ee83af0ba3ed18833dcf9a33',
    'matbench_jdft2d': '96e89a27ba23662de1fed19faaf577db45fd1a3b160d149b556e9d6a348a3056',
    'matbench_mp_e_form': '90e895635c96447c5be4e9070d26f26e1b4d17925102a6597ae3c4d79c32555b',
    'matbench_mp_gap': '4084e584467e6f81ec8bf12c438eeb2c049ae39e11401bae694ef6a9983b9d9f',
    'matbench_mp_is_metal': '080afc38363fd7e0872fb04ae93a73fdecd0329408d007e8811ccd6e96b7e79a',
    'matbench_phonons': '09108e3cbfead13edc0c18e66ca015cef28f7431fcc822038bc7b5ecc5d6222b',
    'matbench_steels': 'a4232b4d83185f8c65c02dca6a013b85e220227d212e703d12586a4b5b9e9cf0',
    'supercon_tc_stanev': 'ce911eec7065a81a18dd4ce3de7c049a4ddbea3bb56b0a3676a077cd198be621',
    'elpasolite_formation_energy': '094c25bf51c9f50ca5c0c9f1733578922f53b9ad34c12000eac9a5a1cde93c4c',
    'mp_poisson_ratio': 'fecdffefff6983620c7657a3962be4b203b27cf39c1ee3a00131ea629c6a2de5',
}

SIZE: dict[str, int] = {
    'CritExam__Ed': 2552508,
    'CritExam__Ef': 2496177,
    'OQMD_Bandgap': 4871447,
    'OQMD_Energy_per_atom': 8105091,
    'OQMD_Formation_Enthalpy': 7915527,
    'OQMD_Volume_per_atom': 6158052,
    'aflow__Egap': 414981,
    'aflow__ael_bulk_modulus_vrh': 81417,
    'aflow__ael_debye_temperature': 83850,
    'aflow__ael_shear_modulus_vrh': 80553,
    'aflow__agl_thermal_conductivity_300K': 85240,
    'aflow__agl_thermal_expansion_300K': 103819,
    'aflow__energy_atom': 557116,
    'mp_bulk_modulus': 145109,
    'mp_e_hull': 1250854,
    'mp_elastic_anisotropy': 148941,
    'mp_mu_b': 1241701,
    'mp_shear_modulus': 141430,
    'matbench_perovskites': 288969,
    'matbench_dielectric': 132927,
    'matbench_log_gvrh': 296676,
    'matbench_log_kvrh': 296929,
    'matbench_expt_gap': 62624,
    'matbench_expt_is_metal': 54988,
    'matbench_glass': 85797,
    'matbench_jdft2d': 16270,
    'matbench_mp_e_form': 4022461,
    'matbench_mp_gap': 2147391,
    'matbench_mp_is_metal': 1574142,
    'matbench_phonons': 34070,
    'matbench_steels': 34664,
    'supercon_tc_stanev': 324082,
    'elpasolite_formation_energy': 379639,
    'mp_poisson_ratio': 37057,
}
